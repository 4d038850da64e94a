"""Preemption: a run killed with SIGKILL and started again by the same command ends bitwise equal to
an uninterrupted one (weights, optimizer, RNG and data position, metrics, history); its records
are never half-written; a grid killed mid-way resumes the same run and W&B run id."""

from __future__ import annotations

import csv
import json
import re
import shutil
import signal
from pathlib import Path

import pytest
import torch

from inception_repro import ablate, train
from inception_repro.data import FashionMNISTDataModule
from inception_repro.store import RunFolder
from inception_repro.training.checkpoint import LastCheckpoint
from inception_repro.training.history import HistoryLogger

from conftest import kill_once_logged, needs_fashion_mnist, run_folder, short_run_overrides, signal_once_logged

pytestmark = needs_fashion_mnist

STEPS_PER_EPOCH = 6  # train_subset 96 / batch 16; two epochs; a checkpoint every 3 steps
TIMING_COLUMNS = ("train/images_per_s", "train/epoch_time_s")
METRICS = ("val_top1", "val_top5", "val_top1_raw", "val_top5_raw", "test_top1", "test_top5", "test_top1_raw",
           "test_top5_raw", "epochs", "global_step", "status")


def _same(a, b, path: str = "") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            _same(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    else:
        assert a == b, path


def _history(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in csv.DictReader(f)]


def _assert_same_run(resumed: Path, reference: Path) -> None:
    """Bitwise: every tensor of the final checkpoint but Lightning's loop counters and paths and the
    wall time; the summary's metrics; every history row but the timings."""
    a, b = (torch.load(d / "checkpoints" / "last.ckpt", weights_only=True) for d in (resumed, reference))
    for part in (a, b):
        part.pop("loops"), part.pop("callbacks"), part.pop("wall_time_s")
    _same(a, b)
    summaries = [json.loads((d / "summary.json").read_text()) for d in (resumed, reference)]
    assert {k: summaries[0].get(k) for k in METRICS} == {k: summaries[1].get(k) for k in METRICS}
    assert _history(resumed) == _history(reference)


def _after_kill(run_dir: Path) -> dict:
    """The record a SIGKILL left: an incomplete summary, a loadable checkpoint, no temporary files."""
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "incomplete"
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    return {"step": checkpoint["global_step"], "wall_time_s": checkpoint["wall_time_s"],
            "files": sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*"))}


def _labels(module: FashionMNISTDataModule, epoch: int | None = None) -> list[list[int]]:
    loader = module.train_dataloader()
    if epoch is not None:
        loader.sampler.set_epoch(epoch)
    return [labels.tolist() for _, labels in loader]


def test_the_train_order_resumes_where_its_checkpoint_left_it(fmnist_cache):
    def module(seed=0, state=None):
        dm = FashionMNISTDataModule(cache_dir=fmnist_cache, batch_size=16, train_subset=96, seed=seed)
        dm.load_state_dict(state or {})
        dm.setup()
        return dm

    epoch0, epoch1 = _labels(module(), 0), _labels(module(), 1)
    assert epoch0 != epoch1 and epoch0 != _labels(module(seed=1), 0)
    assert _labels(module(state={"epoch": 0, "batches": 2})) == epoch0[2:]  # mid-epoch: the same order, 2 batches on
    assert _labels(module(state={"epoch": 1, "batches": 0})) == epoch1  # after an epoch's last batch
    assert _labels(module(state={"epoch": 1, "batches": 5})) == epoch1[5:]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, fmnist_cache) -> Path:
    """An uninterrupted run of aux/bn."""
    results = tmp_path_factory.mktemp("reference")
    assert train.main(["ablation=aux", "variant=bn", *short_run_overrides(results, fmnist_cache)]) == 0
    return run_folder(results)


@pytest.mark.parametrize(("kill_after_row", "resumed_from"), [(3, 3), (STEPS_PER_EPOCH, STEPS_PER_EPOCH)],
                         ids=["mid-epoch", "epoch-boundary"])
def test_killed_run_resumes_bitwise(kill_after_row, resumed_from, reference, tmp_path, fmnist_cache, monkeypatch):
    argv = ["ablation=aux", "variant=bn", *short_run_overrides(tmp_path, fmnist_cache)]
    run_dir = run_folder(tmp_path)
    kill_once_logged("inception_repro.train", argv, run_dir / "metrics.csv", kill_after_row, tmp_path / "log")
    left = _after_kill(run_dir)
    assert left["step"] == resumed_from, left

    clock_starts = []
    start_clock = LastCheckpoint.start_clock
    monkeypatch.setattr(LastCheckpoint, "start_clock", lambda self, s: (clock_starts.append(s), start_clock(self, s)))
    assert train.main(argv) == 0  # the same command again
    assert clock_starts[-1] == left["wall_time_s"]  # the resumed session counts on from its checkpoint's time
    assert not list(run_dir.rglob("*.tmp"))
    _assert_same_run(run_dir, reference)
    # the killed session's time up to its checkpoint counts (the summary it left records none)
    assert 0 < left["wall_time_s"] < json.loads((run_dir / "summary.json").read_text())["wall_time_s"]


@pytest.mark.parametrize(("signum", "status", "line"), [
    (signal.SIGTERM, 143, r"error: stopped by SIGTERM at step (\d+); run the same command to resume it from its "
                          r"checkpoint at step (\d+)"),
    (signal.SIGINT, 130, r"error: interrupted; run the same command again to resume where it stopped"),
], ids=["SIGTERM", "Ctrl-C"])
def test_a_signalled_run_says_so_in_one_line_and_resumes_bitwise(signum, status, line, reference, tmp_path,
                                                                   fmnist_cache):
    """SIGTERM (SLURM's preemption) saves the checkpoint at the end of its step; Ctrl-C stops at once.
    Either way the record stays incomplete and the same command resumes it bit for bit."""
    argv = ["ablation=aux", "variant=bn", *short_run_overrides(tmp_path, fmnist_cache)]
    run_dir = run_folder(tmp_path)
    assert signal_once_logged("inception_repro.train", argv, run_dir / "metrics.csv", 4, tmp_path / "log",
                              signum) == status, (tmp_path / "log").read_text()[-3000:]
    errors = [row for row in (tmp_path / "log").read_text().splitlines() if row.startswith("error:")]
    assert len(errors) == 1 and re.fullmatch(line, errors[0]), errors
    assert "Traceback" not in (tmp_path / "log").read_text()
    left = _after_kill(run_dir)
    if signum == signal.SIGTERM:  # saved at the end of the step the signal came in (during a validation: the last one)
        stopped, saved = (int(step) for step in re.fullmatch(line, errors[0]).groups())
        assert left["step"] == saved and (saved == stopped or saved % 3 == 0), (stopped, saved)
    assert train.main(argv) == 0
    _assert_same_run(run_dir, reference)


def test_a_run_killed_after_its_last_step_resumes_bitwise(reference, tmp_path, fmnist_cache):
    """Killed between its final checkpoint and its test: the same command validates and tests without
    training, and its history (the test row at the last step) is the uninterrupted run's."""
    run_dir = run_folder(tmp_path)
    shutil.copytree(reference, run_dir)
    folder = RunFolder(run_dir)
    folder.write_summary(folder.read_summary().updated(status="incomplete", metrics={}))
    assert train.main(["ablation=aux", "variant=bn", *short_run_overrides(tmp_path, fmnist_cache)]) == 0
    _assert_same_run(run_dir, reference)


@pytest.mark.slow
def test_killed_grid_resumes_the_same_runs_and_wandb_ids(tmp_path, tmp_path_factory, fmnist_cache, monkeypatch):
    """``make ablation-label-smoothing`` killed in its second run, then started again: the first run is
    kept as it was, the second resumes bitwise and continues its W&B run (same id, no second one)."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    overrides = [o if o != "logger=none" else "logger=wandb" for o in short_run_overrides(tmp_path, fmnist_cache)]
    argv = ["label_smoothing", "--seeds", "1", "--jobs", "1", "--", *overrides]  # the kill falls in the second run
    second = run_folder(tmp_path, "label_smoothing", "eps0.1")
    kill_once_logged("inception_repro.ablate", argv, second / "metrics.csv", 3, tmp_path / "log")
    first = run_folder(tmp_path, "label_smoothing", "eps0")
    first_record = (first / "summary.json").read_bytes()
    assert json.loads(first_record)["status"] == "complete"
    assert _after_kill(second)["step"] == 3

    assert ablate.main(argv) == 0
    assert (first / "summary.json").read_bytes() == first_record
    reference = tmp_path_factory.mktemp("grid-reference")
    ref_overrides = [o.replace(str(tmp_path), str(reference)) for o in overrides]
    assert train.main(["ablation=label_smoothing", "variant=eps0.1", *ref_overrides]) == 0
    _assert_same_run(second, run_folder(reference, "label_smoothing", "eps0.1"))
    for run_dir, attempts in ((first, 1), (second, 2)):
        offline = sorted(p.name for p in (run_dir / "wandb").glob("offline-run-*"))
        assert len(offline) == attempts and all(n.endswith(f"-label_smoothing-{run_dir.parent.name.replace('.', '_')}-seed0") for n in offline), offline


def test_a_run_killed_in_its_final_validation_or_test_resumes_bitwise(reference, tmp_path, fmnist_cache):
    """A real SIGKILL once the last step's row is logged lands in the final validation or the test:
    the same command validates and tests again, to the uninterrupted run's summary and history (the
    validation row and the epoch's timing row included, when the kill came before them)."""
    argv = ["ablation=aux", "variant=bn", *short_run_overrides(tmp_path, fmnist_cache)]
    run_dir = run_folder(tmp_path)
    last_step = 2 * STEPS_PER_EPOCH
    kill_once_logged("inception_repro.train", argv, run_dir / "metrics.csv", last_step - 1, tmp_path / "log")
    assert _after_kill(run_dir)["step"] == last_step
    assert train.main(argv) == 0
    _assert_same_run(run_dir, reference)


def test_a_history_cut_short_is_refused_on_resume_with_one_line(reference, tmp_path, fmnist_cache, capsys):
    """Resuming on a metrics.csv cut at a row boundary would silently lose the rows before the checkpoint."""
    run_dir = run_folder(tmp_path)
    shutil.copytree(reference, run_dir)
    folder = RunFolder(run_dir)
    folder.write_summary(folder.read_summary().updated(status="incomplete", metrics={}))
    history = folder.metrics.read_text().splitlines(keepends=True)
    folder.metrics.write_text("".join(history[:4]))
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    assert train.main(["ablation=aux", "variant=bn", *short_run_overrides(tmp_path, fmnist_cache)]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"error: {folder.metrics} is a broken record (metrics.csv stops at step 2, before the "
                           "checkpoint's step 12 (cut short?)); resuming would lose its rows"), line
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before


def test_a_run_that_crashes_stays_incomplete_and_the_same_command_resumes_it_bitwise(reference, tmp_path, fmnist_cache,
                                                                                      monkeypatch, capsys):
    """A full disk mid-run is not the run's fault: no 'failed' record, and the rerun continues bitwise."""
    argv = ["ablation=aux", "variant=bn", *short_run_overrides(tmp_path, fmnist_cache)]
    save = HistoryLogger.save

    def disk_fills_up(self):  # mid-epoch, on the row after the checkpoint of step 6
        if self.rows and int(float(self.rows[-1]["step"])) >= 7:
            raise OSError(28, "No space left on device")
        save(self)

    monkeypatch.setattr(HistoryLogger, "save", disk_fills_up)
    assert train.main(argv) == 1
    assert "No space left on device" in capsys.readouterr().err
    summary = RunFolder(run_folder(tmp_path)).read_summary()
    assert summary.status == "incomplete" and "No space left on device" in summary.failure
    monkeypatch.setattr(HistoryLogger, "save", save)
    assert ablate.main(["aux", "--seeds", "1", "--jobs", "1", "--", *short_run_overrides(tmp_path, fmnist_cache)]) == 0
    assert "3 to train" in capsys.readouterr().out  # resumed, not listed as failed
    _assert_same_run(run_folder(tmp_path), reference)
