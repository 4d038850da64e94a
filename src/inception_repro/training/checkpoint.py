"""last.ckpt, the file a killed run resumes from: written atomically, never with non-finite weights.

Lightning's own save writes through a temporary file in the system's temp folder and moves it,
which copies (not renames) when that folder is on another filesystem, and never syncs to disk.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, NamedTuple

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins import TorchCheckpointIO
from pytorch_lightning.callbacks import Checkpoint

from inception_repro.errors import UserError
from inception_repro.provenance import atomic_write


IDENTITY_KEY = "run_identity"
WALL_TIME_KEY = "wall_time_s"  # seconds the run has trained up to this checkpoint, over all its sessions


class CheckpointCorruptError(UserError):
    """A last.ckpt that cannot be loaded."""


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to a temporary sibling, syncs it to disk and renames it over the old checkpoint.

    Refuses (FloatingPointError) to replace a checkpoint with non-finite weights, so a run that
    diverged keeps its last good one.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        bad = [name for name, t in checkpoint["state_dict"].items() if t.is_floating_point() and not t.isfinite().all()]
        if bad:
            raise FloatingPointError(
                f"non-finite weights ({bad[0]}{' and others' if len(bad) > 1 else ''}) at step "
                f"{checkpoint['global_step']}; the last good checkpoint is kept"
            )
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())

        atomic_write(path, write)


class CheckpointMismatchError(UserError):
    """A last.ckpt of another run (config, seed or scale) found in a run folder."""


class LastCheckpoint(Checkpoint):
    """Saves ``path`` (last.ckpt) every ``every_minutes`` of training, every ``every_n_steps``
    optimizer steps (either may be None) and after the last step, with the run's ``identity``
    (config hash, seed, scale) that ``check_checkpoint`` compares.

    Each checkpoint also records the run's wall time so far (``wall_clock``), so a run killed with
    SIGKILL and resumed counts the time its kept steps took (not the lost ones after the checkpoint).

    A SIGTERM (SLURM's preemption) saves at the end of the step it arrives in, before Lightning stops.
    Always at the end of a step, never after fit: a run resumed after its last step then has
    nothing to save, and every finished run's last.ckpt is the state after its last step. The
    clock is read at the history's cadence (``log_every_n_steps``) and rank 0's reading is
    broadcast, so every DDP rank saves at the same step.
    """

    def __init__(self, path: Path, identity: dict[str, Any], every_n_steps: int | None = None,
                 every_minutes: float | None = None) -> None:
        self.path, self.identity = Path(path), dict(identity)
        self.every_n_steps, self.every_minutes = every_n_steps, every_minutes
        self.last_step = self.saved_step = 0
        self.saved_at = time.monotonic()
        self.start_clock(0.0)

    def start_clock(self, seconds_before: float) -> None:
        """Count the run's wall time from now on top of ``seconds_before`` (a resumed run's, at its checkpoint)."""
        self.seconds_before, self.clock_start = seconds_before, time.perf_counter()

    def wall_clock(self) -> float:
        """Seconds the run has trained, this session and the ones its checkpoint carries over."""
        return self.seconds_before + time.perf_counter() - self.clock_start

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
        checkpoint[IDENTITY_KEY] = self.identity
        checkpoint[WALL_TIME_KEY] = self.wall_clock()

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.last_step, self.saved_step = trainer.estimated_stepping_batches, trainer.global_step
        self.saved_at = time.monotonic()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        due = step >= self.last_step or self._steps_due(step) or self._time_due(trainer, step) or trainer.received_sigterm
        if step != self.saved_step and due:
            trainer.save_checkpoint(self.path, weights_only=False)  # the full state: optimizer, loops, RNG
            self.saved_step, self.saved_at = step, time.monotonic()

    def _steps_due(self, step: int) -> bool:
        return bool(self.every_n_steps) and step % self.every_n_steps == 0

    def _time_due(self, trainer: pl.Trainer, step: int) -> bool:
        if self.every_minutes is None or step % max(1, trainer.log_every_n_steps) != 0:
            return False
        return trainer.strategy.broadcast(time.monotonic() - self.saved_at >= 60 * self.every_minutes)


class KeptState(NamedTuple):
    """What a checkpoint keeps of its run: the steps done, and the wall time they took (None if it
    was written before checkpoints recorded one)."""

    global_step: int
    wall_time_s: float | None


def check_checkpoint(path: Path, identity: dict[str, Any]) -> KeptState:
    """Raise with the fix unless ``path`` loads as a Lightning checkpoint of the run ``identity``
    names (``CheckpointCorruptError``, ``CheckpointMismatchError``); return what it keeps."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        problem = None if isinstance(checkpoint, dict) and {"state_dict", "global_step"} <= checkpoint.keys() else "not a Lightning checkpoint"
    except Exception as error:  # noqa: BLE001 - torch.load raises many types on a damaged file
        problem = f"{error.__class__.__name__}: {' '.join(str(error).split())[:120]}"
    if problem:
        raise CheckpointCorruptError(
            f"{path} cannot be resumed from ({problem}); delete it to restart that run from scratch, or rerun with FORCE=1"
        )
    recorded = checkpoint.get(IDENTITY_KEY) or {}
    mismatch = "; ".join(f"its {k} {recorded.get(k)}, this run's {v}" for k, v in identity.items() if recorded.get(k) != v)
    if mismatch:
        raise CheckpointMismatchError(
            f"{path} belongs to another run ({mismatch}), not resuming from it; "
            "delete it to restart this run from scratch, or rerun with FORCE=1"
        )
    seconds = checkpoint.get(WALL_TIME_KEY)
    return KeptState(int(checkpoint["global_step"]), float(seconds) if isinstance(seconds, (int, float)) else None)
