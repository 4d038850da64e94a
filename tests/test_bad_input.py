"""More bad input (test_cli.py has the first eight): one ``error:`` line, exit 2, nothing written or lost."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from filelock import FileLock

from inception_repro import ablate, train
from inception_repro.ablations import load_ablation
from inception_repro.analysis.collect import collect_runs, read_history
from inception_repro.analysis.load import load
from inception_repro.config import compose_run
from inception_repro.data import fashion_mnist_files
from inception_repro.data.fashion_mnist_files import FILES
from inception_repro.errors import ConfigError, UserError
from inception_repro.paths import CONFIG_DIR
from inception_repro.provenance import project_root
from inception_repro.store import RunFolder, config_hash

from conftest import error_line, fashion_mnist_gz_dir, needs_fashion_mnist, tiny_run_overrides


@pytest.fixture
def results(tmp_path, fmnist_cache):
    """A results folder holding one complete run (aux/bn/seed0) with the tiny config."""
    run_dir = tmp_path / "runs" / "cpu" / "aux" / "bn" / "seed0"
    run_dir.mkdir(parents=True)
    cfg = compose_run(["ablation=aux", "variant=bn", *tiny_run_overrides(tmp_path, fmnist_cache)])
    metrics = {f"{split}_{k}": 0.5 for split in ("val", "test") for k in ("top1", "top5")}
    summary = {"status": "complete", "ablation": "aux", "variant": "bn", "seed": 0, "scale": "cpu",
               "config_hash": config_hash(cfg), **metrics}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    return tmp_path


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file but the runs' (empty) lock files."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.suffix != ".lock"}


def _train_fails(argv, expected, capsys, results, fmnist_cache, variant="plain"):
    """``variant=plain`` has no record yet; the complete aux/bn run must come through unchanged."""
    before = _snapshot(results)
    argv = ["ablation=aux", f"variant={variant}", *tiny_run_overrides(results, fmnist_cache), *argv]
    assert train.main(argv) == 2
    assert expected in error_line(capsys)
    assert _snapshot(results) == before


def _truncated_copy(tmp_path: Path) -> Path:
    root = tmp_path / "truncated"
    root.mkdir()
    for name in FILES:
        data = (fashion_mnist_gz_dir() / f"{name}.gz").read_bytes()
        (root / f"{name}.gz").write_bytes(data if "labels" in name else data[: len(data) // 2])
    return root


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["seed=abc"], "seed='abc': must be an integer in [0, 4294967295] (seed_everything and numpy take 32-bit seeds)"),
        (["seed=-1"], "seed=-1: must be an integer in [0, 4294967295] (seed_everything and numpy take 32-bit seeds)"),
        (["seed=4294967296"], "seed=4294967296: must be an integer in [0, 4294967295] (seed_everything and numpy take 32-bit seeds)"),
        (["model.input_size=5"], "too small for the light stem: the minimum is"),
        (["model.bn_eps=-1"], "model.bn_eps=-1 must be in (0, 1)"),
        (["model.bn_momentum=5"], "model.bn_momentum=5 must be in [0, 1]"),
        (["trainer.val_check_interval=5.0"], "trainer.val_check_interval=5"),
        (["trainer.accelerator=tpu"], "bad trainer config:"),
        (["=0.5"], "bad config override:"),
        (["model.stem=v3", "model.input_size=10"], "too small for the 299 stem: the minimum is"),
        (["model.width=0"], "model.width=0 must be a finite number in (0, 2] (1.0 is the paper's network; 2 has four times its parameters)"),
        (["model.width=inf"], "model.width=inf must be a finite number in (0, 2]"),
        (["model.width=nan"], "model.width=nan must be a finite number in (0, 2]"),
        (["model.width=20"], "model.width=20 must be a finite number in (0, 2]"),
        (["model.input_size=100000"], "model.input_size=100000: a training batch (data.batch_size=16, model.width=0.0625) would keep at "
                                      "least 240,000 GB of activations for the backward pass, more than one device holds (192 GB); "
                                      "lower model.input_size (at this batch and width up to 2828 px fit), data.batch_size or model.width"),
        (["model.stem=v3", "model.input_size=30000"], "model.input_size=30000: a training batch (data.batch_size=16, model.width=0.0625) would keep at least 432 GB"),
        (["data.batch_size=0"], "data.batch_size=0: must be an integer >= 2"),
        (["data.train_subset=8"], "data.train_subset=8 is smaller than data.batch_size=16"),
        # issue 27: each of these trained and wrote a record that was silently wrong
        (["data.val_size=0"], "data.val_size=0: must be an integer in [1, 60000) (a run validates"),
        (["data.train_subset=60000"], "data.train_subset=60000 is more than the 55000 train images (Fashion-MNIST with data.val_size=5000)"),
        (["data.val_subset=6000"], "data.val_subset=6000 is more than the 5000 val images"),
        (["data.test_subset=10001"], "data.test_subset=10001 is more than the 10000 test images"),
        (["data=cifar"], "Could not find 'data/cifar'"),
        (["model.width"], "bad config override"),
        (["trainer.precision=fp7"], "bad trainer config"),
        (["data.root=/no/such/folder"], "data.root=/no/such/folder holds neither"),
        # issue 10: each of these was a traceback (and most left a failed record) before the schema
        (["optimizer.lr=nan"], "optimizer.lr=nan: must be a finite number > 0"),
        (["optimizer.lr=-1"], "optimizer.lr=-1: must be a finite number > 0"),
        (["loss.label_smoothing=1.5"], "loss.label_smoothing=1.5: must be a finite number in [0, 1)"),
        (["data.batch_size=1"], "data.batch_size=1: must be an integer >= 2 (batch norm needs 2+ images"),
        (["trainer.checkpoint_every_n_steps=0"], "trainer.checkpoint_every_n_steps=0: must be an integer >= 1"),
        (["trainer.log_every_n_steps=0"], "trainer.log_every_n_steps=0: must be an integer >= 1"),
        (["optimizer.reference_batch=0"], "optimizer.reference_batch=0: must be an integer >= 1"),
        (["optimizer.epochs_per_decay=0"], "optimizer.epochs_per_decay=0: must be a finite number > 0"),
        (["data.num_workers=-1"], "data.num_workers=-1: must be an integer >= 0"),
        (["trainer.max_epochs=0"], "trainer.max_epochs=0: must be an integer >= 1"),
        (["ema.decay=1"], "ema.decay=1: must be a finite number in [0, 1) (or null)"),
        (["model.width=abc"], "model.width='abc': must be a finite number"),
        (["trainer.limit_train_batches=0"], "trainer.limit_train_batches=0: must be a finite number > 0 (or null)"),
        (["+trainer.foo=1"], "trainer.foo is not a key of trainer; valid keys:"),
        (["variant=../../../escape"], "unknown variant '../../../escape' of ablation 'aux'"),
        (["ablation=../aux"], "unknown ablation '../aux'; valid:"),
        (["ablation=adhoc", "variant=a/b"], "variant='a/b': must be a plain name"),
        (["ablation=adhoc", "variant=.."], "variant='..': must be a plain name"),
    ],
)
@needs_fashion_mnist
def test_bad_run_input_is_one_line_and_writes_nothing(argv, expected, capsys, results, fmnist_cache):
    _train_fails(argv, expected, capsys, results, fmnist_cache)


@pytest.mark.parametrize("argv", [["scale=study_gpu"], ["trainer.accelerator=cuda"]])
@needs_fashion_mnist
def test_a_gpu_run_without_a_gpu_is_one_line(argv, monkeypatch, capsys, results, fmnist_cache):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the same on a machine with one
    _train_fails(argv, "needs a GPU and none is visible here", capsys, results, fmnist_cache)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["data=imagefolder"], "data=imagefolder is not available at scale=cpu (it trains on Fashion-MNIST subsets)"),
        (["data=imagefolder", "scale=gpu"], "data.root is required for data=imagefolder: pass data.root=<value>"),
        (["logger=wandb", "logger.mode=loud"], "logger.mode='loud': must be one of auto, online, offline, disabled"),
        (["scale=cpu", "seed=1.5"], "seed=1.5: must be an integer in [0, 4294967295]"),
    ],
)
def test_bad_group_values_are_one_line_before_any_data_is_read(argv, expected, capsys, tmp_path):
    assert train.main([f"results_dir={tmp_path}", "allow_outside_results=true", *argv]) == 2
    assert expected in error_line(capsys)
    assert not any(tmp_path.iterdir())


@needs_fashion_mnist
def test_truncated_dataset_file_names_it(capsys, results, tmp_path):
    root = _truncated_copy(tmp_path)
    cache = tmp_path / "fresh-cache"
    _train_fails([f"data.root={root}"], "train-images-idx3-ubyte.gz", capsys, results, cache)


@needs_fashion_mnist
def test_corrupt_checkpoint_is_named_and_kept(capsys, results, fmnist_cache):
    run_dir = results / "runs" / "cpu" / "aux" / "plain" / "seed0"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"PK\x03\x04 not a checkpoint")
    _train_fails([], "last.ckpt cannot be resumed from", capsys, results, fmnist_cache)


def test_corrupt_summary_stops_the_grid_before_training(capsys, tmp_path):
    run_dir = tmp_path / "runs" / "cpu" / "aux" / "bn" / "seed0"
    run_dir.mkdir(parents=True)
    (run_dir / "summary.json").write_text('{"status": "compl')
    before = _snapshot(tmp_path)
    assert ablate.main(["aux", "--scale", "cpu", "--seeds", "1", "--", f"results_dir={tmp_path}", "allow_outside_results=true", "logger=none"]) == 2
    assert "summary.json is not valid JSON" in error_line(capsys)
    assert _snapshot(tmp_path) == before


@needs_fashion_mnist
def test_unwritable_results_folder(capsys, tmp_path, fmnist_cache):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    argv = ["ablation=aux", "variant=bn", *tiny_run_overrides(blocker / "results", fmnist_cache)]
    assert train.main(argv) == 2
    assert "cannot write the run folder" in error_line(capsys)
    assert blocker.read_text() == "not a folder"


@needs_fashion_mnist
def test_run_locked_by_another_process(capsys, results, fmnist_cache):
    with FileLock(str(RunFolder(results / "runs" / "cpu" / "aux" / "none" / "seed0").lock_path)):  # held as by another process
        _train_fails([], "is being trained by another process", capsys, results, fmnist_cache, variant="none")


@needs_fashion_mnist
def test_single_run_refuses_a_changed_config(capsys, results, fmnist_cache):
    _train_fails(["data.val_subset=32"], "config changed since", capsys, results, fmnist_cache, variant="bn")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["aux", "--seeds", "0,0"], "must name at least one distinct, non-negative seed"),
        (["aux", "--seeds", "1000000"], "SEEDS='1000000' asks for 1000000 seeds; a grid runs at most 1000 (planning composes every run first"),
        (["aux", "--seeds", ",".join(map(str, range(1001)))], "asks for 1001 seeds; a grid runs at most 1000"),
        (["aux", "--seeds", "0,4294967296"], "seed=4294967296: must be an integer in [0, 4294967295]"),
        (["aux", "--sedes", "2"], "unrecognized arguments: --sedes 2; usage: inception-ablate"),
        (["aux", "--launcher", "k8s"], "invalid choice: 'k8s'"),
    ],
)
def test_bad_grid_options(argv, expected, capsys, tmp_path):
    assert ablate.main([*argv, "--", f"results_dir={tmp_path}", "allow_outside_results=true"]) == 2
    assert expected in error_line(capsys)
    assert not any(tmp_path.iterdir())


def test_analysis_of_an_empty_results_folder_says_so(tmp_path):
    """What a notebook pointed at an empty results folder gets: an empty table or an error naming the folder."""
    try:
        runs = collect_runs(tmp_path)
    except (FileNotFoundError, ValueError) as error:
        assert str(tmp_path) in str(error)
    else:
        assert runs.empty and "status" in runs.columns
    with pytest.raises(FileNotFoundError, match="no-such-folder"):
        collect_runs(tmp_path / "no-such-folder")


AUX_YAML = (CONFIG_DIR / "ablations" / "aux.yaml").read_text()


def _edit(old: str, new: str) -> str:
    assert old in AUX_YAML
    return AUX_YAML.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: aux\nvariants: {bn: [a\n", "is not valid YAML at line 3 (expected ',' or ']', but got '<stream end>')"),
        ("name: aux\n\tcontrol: plain\n", "is not valid YAML at line 2 (found character '\\t' that cannot start any token)"),
        ("- aux\n- bn\n", ": an ablation file must be a mapping with the keys name, paper_section, claim, control, variants, claims, notebook, not a list"),
        ("", ": an ablation file must be a mapping with the keys name, paper_section, claim, control, variants, claims, notebook, not empty"),
        (_edit("variants:", "variantz:"), ": 'variantz' is not a key of an ablation file; valid keys: name, paper_section, claim, control,"),
        (_edit("variants:\n  none: [model.aux=none]\n  plain: [model.aux=plain]\n  bn: [model.aux=bn]\n", ""),
         ": an ablation file lacks 'variants' (required: name, paper_section, claim, control, variants)"),
        (_edit("control: plain\n", ""), ": an ablation file lacks 'control' (required:"),
        (_edit("variants:\n  none: [model.aux=none]\n  plain: [model.aux=plain]\n  bn: [model.aux=bn]", "variants: [none, plain, bn]"),
         ": variants of an ablation file must be a mapping, not a list"),
        (_edit("bn: [model.aux=bn]", "bn: {model.aux: bn}"), ": variant 'bn' must be a list of config overrides such as [model.aux=bn], not {'model.aux': 'bn'}"),
        (_edit("bn: [model.aux=bn]", "bn: model.aux=bn"), ": variant 'bn' must be a list of config overrides such as [model.aux=bn], not 'model.aux=bn'"),
        (_edit("control: plain\n", "control: deep\n"), ": control 'deep' is not one of its variants"),
        (_edit("name: aux", "name: auxiliary"), ": name 'auxiliary' is not the file's name 'aux'"),
        (_edit("claims:\n", "claims:\n  - a sentence\n"), ": each claim must be a mapping with the keys id, paper_section, control, variant,"),
        (_edit("claims:\n  - id: aux_bn_vs_plain", "claims:\n  aux_bn_vs_plain:\n  - id: x"), ": claims of an ablation file must be a list, not a mapping"),
        (_edit("paper_delta: 0.4", "paper_delta: lots"), ": paper_delta of claim 'aux_bn_vs_plain' must be a number or empty, not a string 'lots'"),
        (_edit("direction: better", "direction: bigger"), ": claim 'aux_bn_vs_plain' has direction 'bigger'; it must be one of better, worse, same"),
        (_edit("    variant: bn\n", "    variant: bn\n    delta: 1\n"), ": 'delta' is not a key of claim 'aux_bn_vs_plain'; valid keys: id,"),
        (_edit("statement: A batch", "statement: [A batch"), "is not valid YAML at line 21"),
    ],
)
def test_a_malformed_ablation_file_is_one_line_naming_it(text, expected, tmp_path):
    (tmp_path / "ablations").mkdir()
    path = tmp_path / "ablations" / "aux.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_ablation("aux", tmp_path)
    assert str(error.value).startswith(str(path)) and expected in str(error.value)
    assert "\n" not in str(error.value)


def test_a_grid_of_a_malformed_ablation_file_is_one_line_and_writes_nothing(tmp_path):
    configs = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, configs)
    (configs / "ablations" / "aux.yaml").write_text(_edit("control: plain\n", ""))
    env = {**os.environ, "INCEPTION_REPRO_CONFIGS": str(configs), "PYTHONPATH": str(project_root() / "src")}
    done = subprocess.run([sys.executable, "-m", "inception_repro.ablate", "aux", "--seeds", "1", "--",
                           f"results_dir={tmp_path / 'results'}", "allow_outside_results=true"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (f"error: {configs / 'ablations' / 'aux.yaml'}: an ablation file lacks 'control' "
                                   "(required: name, paper_section, claim, control, variants)")
    assert not (tmp_path / "results").exists()


STUDY_RUN = project_root() / "results" / "runs" / "cpu" / "aux" / "bn" / "seed0"
METRICS = (STUDY_RUN / "metrics.csv").read_text().splitlines(keepends=True)  # 41 lines; line 4 a validation row


def _cell(line: int, column: str, value: str) -> list[str]:
    """METRICS with one cell replaced (lines count from 1, the header's)."""
    header = METRICS[0].rstrip("\n").split(",")
    cells = METRICS[line - 1].rstrip("\n").split(",")
    cells[header.index(column)] = value
    return [*METRICS[: line - 1], ",".join(cells) + "\n", *METRICS[line:]]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (_cell(4, "val/top1", "abc"), "metrics.csv, line 4: val/top1='abc' is not a number"),
        (_cell(7, "train/loss", "1.2.3"), "metrics.csv, line 7: train/loss='1.2.3' is not a number"),
        (_cell(5, "step", ""), "metrics.csv, line 5: step='' is not a step number"),
        ([*METRICS[:-1], METRICS[-1][:8]], "metrics.csv, line 41: 3 cells where the header names 17 (a row cut short?)"),
        ([*METRICS[:9], METRICS[9].rstrip("\n") + ",0.5\n", *METRICS[10:]], "metrics.csv, line 10: 18 cells where the header names 17"),
        ([METRICS[0].replace("step,", ""), *METRICS[1:]], "metrics.csv, line 1: the header 'epoch,train/loss,"),
        ([METRICS[0].replace("val/top5,", "val/top1,"), *METRICS[1:]], "metrics.csv, line 1: the header names the column 'val/top1' twice"),
        ([], "metrics.csv, line 1: the header '' does not start with step,epoch"),
    ],
)
def test_a_malformed_metrics_csv_is_one_line_naming_its_line(lines, expected, tmp_path):
    """What a notebook reads: the run is corrupt, left out of every table and curve, and the study's
    status line names its file and line, not a TypeError in a plot."""
    run = tmp_path / "runs" / "cpu" / "aux" / "bn" / "seed0"
    shutil.copytree(STUDY_RUN, run)
    (run / "metrics.csv").write_text("".join(lines))
    before = _snapshot(tmp_path)
    study = load(tmp_path, scale="cpu")
    assert list(study.runs["status"]) == ["corrupt"] and study.history().empty
    assert f"Corrupt, left out: {run} ({expected}" in study.status_line() and "\n" not in study.status_line()
    assert _snapshot(tmp_path) == before


def test_a_malformed_history_read_directly_names_its_file_and_line(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,epoch,val/top1\n19,0,abc\n")
    with pytest.raises(UserError) as error:
        read_history(path)
    assert str(error.value) == (f"{path}, line 2: val/top1='abc' is not a number; restore that file (git checkout, "
                                "in the committed study) or delete its run folder to train the run again")


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "forced"])  # forced: before any record is deleted
def test_launcher_slurm_without_slurm_is_one_line_before_any_job(force, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch, as on a machine without SLURM
    results = tmp_path / "results"
    assert ablate.main(["aux", *force, "--scale", "cpu", "--seeds", "1", "--launcher", "slurm", "--", f"results_dir={results}",
                        "allow_outside_results=true", "logger=none"]) == 2
    assert error_line(capsys) == ("error: LAUNCHER=slurm (--launcher slurm) needs SLURM, and there is no sbatch on PATH here: run "
                                  "it on a SLURM login node, or train here without LAUNCHER (or with LAUNCHER=local, the same "
                                  "job array as local processes)")
    assert not results.exists()


@needs_fashion_mnist
def test_a_cache_dir_that_is_a_file_is_one_line(capsys, results, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    _train_fails([], f"data.cache_dir={blocker} is a file, not a folder: point data.cache_dir at a folder", capsys, results, blocker)
    assert blocker.read_text() == "not a folder"


@needs_fashion_mnist
def test_the_data_cache_has_one_home_whatever_the_current_directory(tmp_path, monkeypatch):
    """A command run from another folder finds the project's data/ (or the user's cache), never unpacks
    53 MB where it stands; the config keeps the relative value, so no config hash changes."""
    assert fashion_mnist_files.cache_home() == project_root()
    assert compose_run(["scale=cpu"]).data.cache_dir == "data"
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setattr(fashion_mnist_files, "cache_home", lambda: home)
    monkeypatch.chdir(elsewhere)
    assert fashion_mnist_files.resolve_fashion_mnist(fashion_mnist_gz_dir(), "data", download=False) == home / "data"
    assert sorted(p.name for p in fashion_mnist_files.raw_dir(home / "data").iterdir()) == sorted(FILES)
    assert not any(elsewhere.iterdir())
