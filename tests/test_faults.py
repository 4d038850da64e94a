"""Faults during a run: non-finite loss or weights, two grids at once, W&B unreachable or refusing the key."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from inception_repro import ablate, train
from inception_repro.store import RunFolder
from inception_repro.training.checkpoint import AtomicCheckpointIO
from inception_repro.training.tracking import make_wandb_logger

from conftest import needs_fashion_mnist, run_folder, tiny_run_overrides

FAKE_KEY = "0123456789abcdef0123456789abcdef01234567"


def _train_steps(run_dir: Path) -> list[int]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return [int(float(r["step"])) for r in csv.DictReader(f) if r.get("train/loss")]


@needs_fashion_mnist
def test_nan_loss_fails_the_run_keeps_the_good_checkpoint_and_the_grid_goes_on(tmp_path, fmnist_cache, capsys):
    overrides = [*tiny_run_overrides(tmp_path, fmnist_cache), "optimizer=sgd", "optimizer.lr=1e15",
                 "trainer.checkpoint_every_n_steps=1"]
    argv = ["label_smoothing", "--seeds", "1", "--", *overrides]
    assert ablate.main(argv) == 1
    out = capsys.readouterr().out
    for variant in ("eps0", "eps0.1"):
        run_dir = run_folder(tmp_path, "label_smoothing", variant)
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["status"] == "failed" and summary["failure"].startswith("non-finite loss nan at step ")
        failed_at = int(summary["failure"].rsplit(" ", 1)[1])
        checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
        assert checkpoint["global_step"] == failed_at  # the weights the failing step started from
        assert all(t.isfinite().all() for t in checkpoint["state_dict"].values() if t.is_floating_point())
    assert "eps0.1/seed0: failed, non-finite loss nan at step" in out and "seed0: failed (non-finite" in out

    assert ablate.main(argv) == 1  # failed runs are listed, not retrained (FORCE=1 reruns them)
    assert "0 to train, 2 already recorded" in capsys.readouterr().out


def test_a_checkpoint_with_non_finite_weights_or_a_failed_write_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}, "global_step": 5}, path)
    good = path.read_bytes()
    with pytest.raises(FloatingPointError, match=r"non-finite weights \(w\) at step 6; the last good checkpoint is kept"):
        io.save_checkpoint({"state_dict": {"w": torch.tensor([1.0, float("inf"), 0.0])}, "global_step": 6}, path)

    def killed_mid_write(obj, f):
        f.write(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", killed_mid_write)
    with pytest.raises(OSError, match="No space left"):
        io.save_checkpoint({"state_dict": {"w": torch.zeros(3)}, "global_step": 7}, path)
    assert path.read_bytes() == good
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]


@needs_fashion_mnist
def test_two_grids_at_once_share_the_work_without_clobbering(tmp_path, fmnist_cache, capsys):
    """A second ``make ablation-...`` started while the first trains passes over the run the first
    holds (and says so) and trains another; neither crashes, every run is trained once, whole."""
    argv = ["label_smoothing", "--seeds", "1", "--jobs", "1", "--", *tiny_run_overrides(tmp_path, fmnist_cache)]
    first_run, second_run = (run_folder(tmp_path, "label_smoothing", v) for v in ("eps0", "eps0.1"))
    with open(tmp_path / "log", "w") as log:
        other = subprocess.Popen([sys.executable, "-m", "inception_repro.ablate", *argv], stdout=log, stderr=log)
        while not RunFolder(first_run).lock_path.exists() and other.poll() is None:  # the other grid holds eps0 now
            time.sleep(0.005)
        code = ablate.main(argv)
        other_code = other.wait(timeout=600)
    log = (tmp_path / "log").read_text()
    assert code in (0, 1) and other_code in (0, 1) and "Traceback" not in log, log[-3000:]
    reports = capsys.readouterr().out + log  # which grid meets a held lock, and on which run, depends on timing
    assert "seed0 is being trained by another process (lock held); wait for it" in reports
    for run_dir in (first_run, second_run):
        assert json.loads((run_dir / "summary.json").read_text())["status"] == "complete"
        assert _train_steps(run_dir) == [0, 1, 2, 3]  # trained once: no row twice, none missing


@pytest.mark.slow
@needs_fashion_mnist
def test_unreachable_wandb_falls_back_to_offline_with_one_warning(tmp_path, fmnist_cache, monkeypatch, recwarn, fresh_wandb):
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # a closed port on loopback
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    monkeypatch.setenv("WANDB_MODE", "online")
    overrides = [o for o in tiny_run_overrides(tmp_path, fmnist_cache) if o != "logger=none"]
    argv = ["ablation=aux", "variant=bn", *overrides, "logger.mode=online", "logger.init_timeout=3"]
    assert train.main(argv) == 0
    warned = [str(w.message) for w in recwarn if "W&B" in str(w.message)]
    assert len(warned) == 1 and "127.0.0.1:9" in warned[0] and "logging offline instead" in warned[0], warned
    run_dir = run_folder(tmp_path)
    assert [p.name.rsplit("-", 2)[-2:] for p in (run_dir / "wandb").glob("offline-run-*")] == [["bn", "seed0"]]
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "complete"


def test_a_refused_wandb_key_falls_back_to_offline(tmp_path, monkeypatch, fresh_wandb):
    monkeypatch.setenv("WANDB_API_KEY", "not-a-key")
    monkeypatch.setenv("WANDB_MODE", "online")
    with pytest.warns(UserWarning, match="API key must have 40\\+ characters.*logging offline instead"):
        logger = make_wandb_logger(tmp_path, "p", None, "online", "aux", "bn", 0, "cpu", {}, init_timeout=3)
    assert logger.experiment.settings.mode == "offline"
    logger.experiment.finish()
