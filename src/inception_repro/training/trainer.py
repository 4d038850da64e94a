"""The run's Lightning ``Trainer``, from the ``trainer`` config group in one step.

Every key of the group is a ``pytorch_lightning.Trainer`` argument passed as it is, except
``PROJECT_KEYS``, which this project reads itself.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from lightning_fabric.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig, OmegaConf

from inception_repro.distributed import parallel_plugins, torch_sync_batchnorm
from inception_repro.errors import ConfigError
from inception_repro.training.callbacks import ExactResume, GradNorm, ThroughputMonitor
from inception_repro.training.checkpoint import AtomicCheckpointIO, LastCheckpoint

PROJECT_KEYS = ("threads", "channels_last", "compile", "checkpoint_every_minutes", "checkpoint_every_n_steps",
                "sync_batchnorm")
"""``trainer`` keys read by this project (training/builders.py, the checkpoint, the batch-norm sync), not Lightning."""
FIXED = {"gradient_clip_algorithm": "norm", "num_sanity_val_steps": 0, "enable_model_summary": False, "logger": False}
"""Settings every run shares: clipping by global norm (§8), no sanity check or summary; loggers are attached per run."""


def build_trainer(t: DictConfig, root: Path, last_checkpoint: Path, identity: dict[str, Any],
                  throughput: ThroughputMonitor) -> pl.Trainer:
    """The Trainer of the run in ``root``, saving ``last_checkpoint`` with the run's ``identity``. It touches
    no file, so a bad ``trainer.*`` value fails (one line) before the run folder is created."""
    checkpoint = LastCheckpoint(last_checkpoint, identity, t.checkpoint_every_n_steps, t.checkpoint_every_minutes)
    progress = pl.callbacks.RichProgressBar() if sys.stdout.isatty() else pl.callbacks.TQDMProgressBar(refresh_rate=100)
    lightning = {k: v for k, v in OmegaConf.to_container(t, resolve=True).items() if k not in PROJECT_KEYS}
    try:
        return pl.Trainer(
            **lightning, **FIXED, default_root_dir=root,
            benchmark=not t.deterministic,  # cuDNN picks the fastest convolution algorithms (GPU only)
            sync_batchnorm=torch_sync_batchnorm(t.accelerator, t.sync_batchnorm),
            callbacks=[checkpoint, throughput, ExactResume(), GradNorm(), progress],
            plugins=[*parallel_plugins(t.accelerator, t.sync_batchnorm), AtomicCheckpointIO()],
        )
    except (MisconfigurationException, ValueError, TypeError, ModuleNotFoundError) as error:  # e.g. tpu without torch_xla
        raise ConfigError(f"bad trainer config: {' '.join(str(error).split())}") from None


def last_checkpoint_callback(trainer: pl.Trainer) -> LastCheckpoint:
    return next(c for c in trainer.callbacks if isinstance(c, LastCheckpoint))
