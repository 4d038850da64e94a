"""Bad input: one clear line naming the valid choices or the fix, a non-zero exit, nothing overwritten."""

from __future__ import annotations

import pytest

from inception_repro import ablate, train
from inception_repro.data import fashion_mnist_files


@pytest.fixture
def finished_run(tmp_path):
    run_dir = tmp_path / "runs" / "aux" / "bn" / "seed0"
    run_dir.mkdir(parents=True)
    (run_dir / "summary.json").write_text('{"status": "complete"}')
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
        (["aux", "--scale", "tpu"], "valid: cpu, gpu, paper"),
        (["aux", "--seeds", "two"], "is not a count"),
        (["aux", "--", "model.aux=deep"], "choose one of: none, plain, bn"),
        (["aux", "--", "optimizer=adam"], "Available options in 'optimizer': rmsprop rmsprop_torch sgd"),
    ],
)
def test_bad_grid_input_is_one_line_and_exit_2(argv, expected, capsys, tmp_path, finished_run):
    before = (finished_run / "summary.json").read_text()
    assert ablate.main([*argv[:1], *argv[1:], *([] if "--" in argv else ["--"]), f"results_dir={tmp_path}"]) == 2
    assert expected in _error_line(capsys)
    assert (finished_run / "summary.json").read_text() == before


def test_unknown_variant_names_the_valid_ones(capsys, tmp_path):
    assert train.main(["ablation=aux", "variant=huge", f"results_dir={tmp_path}"]) == 2
    assert "valid: none, plain, bn" in _error_line(capsys)


def test_missing_dataset_names_the_three_ways_to_provide_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_mnist_files, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-such-dir")
    argv = ["ablation=aux", "variant=bn", f"results_dir={tmp_path}", f"data.cache_dir={tmp_path / 'empty'}", "logger=none"]
    assert train.main(argv) == 2
    line = _error_line(capsys)
    assert "data.root=" in line and "apt-get install dataset-fashion-mnist" in line and "data.download=true" in line
