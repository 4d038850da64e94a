"""Bad input: one clear line naming the valid choices or the fix, a non-zero exit, nothing overwritten."""

from __future__ import annotations

import pytest
import yaml

from inception_repro import ablate, train
from inception_repro.data import fashion_mnist_files


@pytest.fixture
def finished_run(tmp_path):
    run_dir = tmp_path / "runs" / "cpu" / "aux" / "bn" / "seed0"
    run_dir.mkdir(parents=True)
    (run_dir / "summary.json").write_text('{"status": "complete", "test_top1": 0.5}')
    return run_dir


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["nope"], "valid: aux, factorization, label_smoothing, optimizer, resolution, table3"),
        (["aux", "--", "model.depth=3"], "Could not override 'model.depth'"),
        (["aux", "--scale", "tpu"], "valid: cpu, study_gpu, gpu, paper"),
        (["aux", "--seeds", "two"], "is not a count"),
        (["aux", "--", "model.aux=deep"], "model.aux='deep': must be one of none, plain, bn"),
        (["aux", "--", "optimizer=adam"], "Available options in 'optimizer': rmsprop rmsprop_torch sgd"),
    ],
)
def test_bad_grid_input_is_one_line_and_exit_2(argv, expected, capsys, tmp_path, finished_run):
    before = (finished_run / "summary.json").read_text()
    assert ablate.main([*argv[:1], *argv[1:], *([] if "--" in argv else ["--"]), f"results_dir={tmp_path}", "allow_outside_results=true"]) == 2
    assert expected in _error_line(capsys)
    assert (finished_run / "summary.json").read_text() == before


def test_unknown_variant_names_the_valid_ones(capsys, tmp_path):
    assert train.main(["ablation=aux", "variant=huge", f"results_dir={tmp_path}", "allow_outside_results=true"]) == 2
    assert "valid: none, plain, bn" in _error_line(capsys)


def test_missing_dataset_names_the_three_ways_to_provide_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_mnist_files, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-such-dir")
    argv = ["ablation=aux", "variant=bn", f"results_dir={tmp_path}", "allow_outside_results=true", f"data.cache_dir={tmp_path / 'empty'}", "logger=none"]
    assert train.main(argv) == 2
    line = _error_line(capsys)
    assert "data.root=" in line and "apt-get install dataset-fashion-mnist" in line and "data.download=true" in line


def test_train_help_and_cfg_job_train_nothing(tmp_path, capsys):
    assert train.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: python -m inception_repro.train" in out and "scale: cpu, gpu, paper" in out
    argv = ["ablation=aux", "variant=none", "scale=cpu", f"results_dir={tmp_path}", "allow_outside_results=true"]
    assert train.main(["--cfg", "job", *argv]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["aux"] == "none" and printed["run_dir"] == f"{tmp_path}/runs/cpu/aux/none/seed0"
    assert not list(tmp_path.iterdir())
    assert train.main(["--cfg", "hydra"]) == 2
    assert "--cfg takes job" in _error_line(capsys)


def test_an_unknown_store_is_one_line(tmp_path, capsys):
    assert ablate.main(["aux", "--store", "mine", "--", f"results_dir={tmp_path}"]) == 2
    assert "invalid choice: 'mine' (choose from" in _error_line(capsys)
