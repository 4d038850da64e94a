"""last.ckpt, the file a killed run resumes from: written atomically, never with non-finite weights.

Lightning's own save writes through a temporary file in the system's temp folder and moves it,
which copies (not renames) when that folder is on another filesystem, and never syncs to disk.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins import TorchCheckpointIO

from inception_repro.errors import UserError
from inception_repro.provenance import atomic_write


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


def run_checkpoint(dirpath: Path, every_n_train_steps: int) -> pl.callbacks.ModelCheckpoint:
    """Only ``last.ckpt``, every ``every_n_train_steps`` optimizer steps and at the end of training."""
    return pl.callbacks.ModelCheckpoint(
        dirpath=dirpath, save_last=True, save_top_k=0, every_n_train_steps=every_n_train_steps,
        enable_version_counter=False,
    )


def check_checkpoint(path: Path) -> None:
    """Raise ``CheckpointCorruptError`` with the fix unless ``path`` loads as a Lightning checkpoint."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        problem = None if isinstance(checkpoint, dict) and {"state_dict", "global_step"} <= checkpoint.keys() else "not a Lightning checkpoint"
    except Exception as error:  # noqa: BLE001 - torch.load raises many types on a damaged file
        problem = f"{error.__class__.__name__}: {' '.join(str(error).split())[:120]}"
    if problem:
        raise CheckpointCorruptError(
            f"{path} cannot be resumed from ({problem}); delete it to restart that run from scratch, or rerun with FORCE=1"
        )
