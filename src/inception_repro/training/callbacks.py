"""Callbacks: training throughput and epoch time, the gradient norm; exact resume (RNG states, history)."""

from __future__ import annotations

import random
import time

import numpy as np
import pytorch_lightning as pl
import torch

from inception_repro.metrics import EPOCH_TIME, IMAGES_PER_S
from inception_repro.training.history import HistoryLogger


class ThroughputMonitor(pl.Callback):
    """Logs ``train/images_per_s`` (training steps only) and ``train/epoch_time_s`` every epoch."""

    def __init__(self) -> None:
        self.images = 0
        self.busy_s = 0.0
        self._batch_start = 0.0
        self._epoch_start = 0.0
        self._epoch_images = 0
        self._epoch_busy = 0.0

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._epoch_start = time.perf_counter()
        self._epoch_images, self._epoch_busy = 0, 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        elapsed = time.perf_counter() - self._batch_start
        n = len(batch[1]) * trainer.world_size
        self.images += n
        self.busy_s += elapsed
        self._epoch_images += n
        self._epoch_busy += elapsed

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._epoch_busy > 0:
            pl_module.log(IMAGES_PER_S, self._epoch_images / self._epoch_busy)
        pl_module.log(EPOCH_TIME, time.perf_counter() - self._epoch_start)

    @property
    def images_per_s(self) -> float | None:
        return self.images / self.busy_s if self.busy_s else None


class GradNorm(pl.Callback):
    """Logs ``train/grad_norm``, the global L2 norm of the gradients before clipping (§8 clips at 2.0),
    on the steps whose metrics Lightning writes (every ``log_every_n_steps``-th), so each value is
    written in the row of the step it was measured at and a checkpoint never holds it unwritten."""

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if (trainer.global_step + 1) % trainer.log_every_n_steps == 0:
            grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
            pl_module.log("train/grad_norm", torch.nn.utils.get_total_norm(grads))


class ExactResume(pl.Callback):
    """Makes a resumed run continue exactly where its checkpoint left off: RNG states and history.

    Saves the python, numpy, torch (and CUDA) RNG states in each checkpoint and restores them:
    Lightning's checkpoints hold none of them, so without this a resumed run draws different
    augmentations and dropout masks than the uninterrupted one. numpy's state is
    stored as plain lists so the checkpoint loads with ``weights_only``. The data order is the
    data module's part (``data.loaders.ResumableTrainData``). On restore, history rows that the
    killed process logged after the checkpoint are dropped: they are logged again.
    """

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        checkpoint["rng_states"] = {
            "python": random.getstate(),
            "numpy": [kind, keys.tolist(), pos, has_gauss, gauss],
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    def on_load_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        states = checkpoint.get("rng_states")
        if not states:
            return
        random.setstate(_as_python_state(states["python"]))
        kind, keys, pos, has_gauss, gauss = states["numpy"]
        np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))
        torch.set_rng_state(states["torch"])
        if states["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(states["cuda"])
        for logger in trainer.loggers:
            if isinstance(logger, HistoryLogger):
                logger.keep_before(checkpoint["global_step"])


def _as_python_state(state):
    """``random.setstate`` wants tuples; a checkpoint round trip may give lists."""
    version, internal, gauss = state
    return (version, tuple(internal), gauss)
