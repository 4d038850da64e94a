"""Timing the training step on a device: synchronized windows, host-device syncs counted, a bench Trainer."""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.loggers import Logger
import torch
from omegaconf import DictConfig


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextmanager
def counted_syncs(device: torch.device):
    """Counts what waits for the device: on CUDA, the operations its sync debug mode warns about;
    elsewhere, tensor reads into Python (item, tolist, bool, float, int). Yields a one-item list."""
    count = [0]
    if device.type == "cuda":
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                yield count
            finally:
                torch.cuda.set_sync_debug_mode("default")
                count[0] = sum("synchroniz" in str(w.message) for w in caught)
        return
    names = ("item", "tolist", "__bool__", "__float__", "__int__")
    originals = {name: getattr(torch.Tensor, name) for name in names}

    def counting(original):
        def read(self, *args, **kwargs):
            count[0] += 1
            return original(self, *args, **kwargs)
        return read

    for name, original in originals.items():
        setattr(torch.Tensor, name, counting(original))
    try:
        yield count
    finally:
        for name, original in originals.items():
            setattr(torch.Tensor, name, original)


class StepTimer(pl.Callback):
    """Device-synchronized wall time of optimizer steps [warmup, warmup + steps), then the syncs of
    the ``counted`` steps after them; ``total`` steps in all."""

    def __init__(self, device: torch.device, warmup: int, steps: int, counted: int = 0) -> None:
        self.device, self.warmup, self.steps, self.counted = device, warmup, steps, counted
        self.seconds = self.start = 0.0
        self.syncs: int | None = None
        self._counting = None

    @property
    def total(self) -> int:
        return self.warmup + self.steps + self.counted

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.warmup:
            synchronize(self.device)
            self.start = time.perf_counter()
        if self.counted and trainer.global_step == self.warmup + self.steps:
            self._counting = counted_syncs(self.device)
            self._count = self._counting.__enter__()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.warmup + self.steps:
            synchronize(self.device)
            self.seconds = time.perf_counter() - self.start
        if self._counting is not None and trainer.global_step == self.total:
            self._stop_counting()

    def on_train_end(self, trainer, pl_module) -> None:
        if self._counting is not None:  # fewer steps than planned: the count is partial, so none is kept
            self._counting.__exit__(None, None, None)
            self._counting = None

    def on_exception(self, trainer, pl_module, exception) -> None:
        self.on_train_end(trainer, pl_module)

    def _stop_counting(self) -> None:
        self._counting.__exit__(None, None, None)
        self._counting, self.syncs = None, self._count[0]


def bench_trainer(cfg: DictConfig, timer: StepTimer, folder: Path, logger: Logger | bool = False) -> pl.Trainer:
    """A Trainer set up as a run's (precision, clipping, logging cadence, cuDNN benchmark) for the
    timer's steps (over as many epochs as that takes), without validation, checkpoints or progress bar;
    ``logger``: none, or e.g. the run's history logger."""
    t = cfg.trainer
    return pl.Trainer(
        accelerator=t.accelerator, devices=1, max_epochs=-1, max_steps=timer.total, precision=t.precision,
        gradient_clip_val=t.gradient_clip_val, gradient_clip_algorithm="norm", log_every_n_steps=t.log_every_n_steps,
        benchmark=True, logger=logger, callbacks=[timer], limit_val_batches=0, num_sanity_val_steps=0,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, default_root_dir=folder,
    )
