"""The real training step reads nothing back from the device between the history's rows, and still
fails a run on its first non-finite loss with the step it happened at."""

from __future__ import annotations

import inspect
import json
from collections import Counter
from pathlib import Path

import pytorch_lightning as pl
import torch

from inception_repro import train
from inception_repro.config import compose_run
from inception_repro.store import RunFolder, Summary, begin

from conftest import needs_fashion_mnist, run_folder, tiny_run_overrides

SRC = str(Path(train.__file__).parent)
READS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__")  # each waits for the device
EVERY = 4  # trainer.log_every_n_steps
STEPS = 12


class _StepClock(pl.Callback):
    """The optimizer step in progress (1-based), None outside the training batches."""

    step: int | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.step = trainer.global_step + 1

    def on_validation_start(self, trainer, pl_module) -> None:
        self.step = None

    on_train_end = on_test_start = on_validation_start


def _count_reads(monkeypatch, clock: _StepClock) -> Counter:
    """Per step: the tensor reads anyone makes, and the device copies project code makes without non_blocking."""
    counts: Counter = Counter()

    def counted(name, original):
        def read(self, *args, **kwargs):
            if clock.step is not None:
                counts[clock.step, name] += 1
            return original(self, *args, **kwargs)

        return read

    for name in READS:
        monkeypatch.setattr(torch.Tensor, name, counted(name, getattr(torch.Tensor, name)))
    original_to = torch.Tensor.to

    def to(self, *args, **kwargs):
        moves = "device" in kwargs or any(isinstance(a, (torch.device, str, torch.Tensor)) for a in args)
        caller = inspect.currentframe().f_back.f_code.co_filename
        if clock.step is not None and moves and not kwargs.get("non_blocking") and caller.startswith(SRC):
            counts[clock.step, "blocking to()"] += 1
        return original_to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "to", to)
    return counts


@needs_fashion_mnist
def test_the_training_step_syncs_only_on_the_steps_it_logs(tmp_path, fmnist_cache, monkeypatch):
    overrides = [*tiny_run_overrides(tmp_path, fmnist_cache), f"data.train_subset={16 * STEPS}",
                 f"trainer.log_every_n_steps={EVERY}", "trainer.val_check_interval=1.0", "ablation=aux", "variant=bn"]  # validations aside
    cfg = compose_run(overrides)
    folder = RunFolder(Path(cfg.run_dir))
    run = train.prepare_run(cfg, folder)
    clock = _StepClock()
    run.trainer.callbacks.append(clock)
    counts = _count_reads(monkeypatch, clock)
    with folder.locked():
        summary = train._record_fit(cfg, run, begin(folder, cfg, "train", run.costs))
    assert summary.status == "complete" and summary.global_step == STEPS
    syncing = sorted({step for step, _ in counts})
    assert syncing and set(syncing) <= set(range(EVERY, STEPS + 1, EVERY)), counts
    with open(folder.metrics) as f:
        header = f.readline().strip().split(",")
    assert {"lr", "train/loss"} <= set(header)  # still logged, on the logged steps


@needs_fashion_mnist
def test_a_non_finite_loss_fails_the_run_before_any_checkpoint_past_it(tmp_path, fmnist_cache):
    """Checked before every checkpoint (here one per step, the history every 100): the failure names the
    first bad step and the checkpoint is that step's starting weights, as when every step was checked."""
    summary = _diverging_run(tmp_path, fmnist_cache, "trainer.log_every_n_steps=100", "trainer.checkpoint_every_n_steps=1")
    failed_at = int(summary.failure.rsplit(" ", 1)[1])
    run_dir = run_folder(tmp_path)
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == failed_at < STEPS
    assert json.loads((run_dir / "summary.json").read_text())["failure"] == summary.failure


@needs_fashion_mnist
def test_a_non_finite_loss_is_caught_at_the_next_logged_step(tmp_path, fmnist_cache):
    """No checkpoint in between: the step goes on without a sync until the history's next row."""
    summary = _diverging_run(tmp_path, fmnist_cache, f"trainer.log_every_n_steps={EVERY}",
                             "trainer.checkpoint_every_minutes=null")
    failed_at = int(summary.failure.rsplit(" ", 1)[1])
    assert summary.global_step % EVERY == 0 and failed_at < summary.global_step <= failed_at + EVERY
    assert not (run_folder(tmp_path) / "checkpoints" / "last.ckpt").exists()


def _diverging_run(tmp_path, fmnist_cache, *overrides: str) -> Summary:
    """SGD at LR 1e15: the loss is NaN within a few steps; the run's summary. (At width 0.125 the loss
    goes NaN before the weights do; at 1/16 a weight can overflow first, which fails the run as well.)"""
    cfg = compose_run([*tiny_run_overrides(tmp_path, fmnist_cache), "ablation=aux", "variant=bn", "optimizer=sgd",
                       "optimizer.lr=1e15", "model.width=0.125", f"data.train_subset={16 * STEPS}", *overrides])
    summary = train.train_run(cfg)
    assert summary.status == "failed" and summary.failure.startswith("non-finite loss nan at step "), summary
    return summary
