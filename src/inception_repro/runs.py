"""Run folders: results/runs/<ablation>/<variant>/seed<k>/ with config.yaml, metrics.csv, summary.json.

Every record file is written to a temporary name and renamed, so a run killed at any instant
leaves either the previous record or the new one. A lock per run folder keeps two processes
from training the same run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from omegaconf import DictConfig, OmegaConf

from inception_repro.errors import UserError
from inception_repro.provenance import atomic_write

STATUSES = ("complete", "incomplete", "failed")
# Keys that say where and how a run is recorded, not what it computes.
UNHASHED_KEYS = ("logger", "results_dir", "run_dir")


class RunRecordError(UserError):
    """A run record that cannot be read, or a run folder held by another process."""


@dataclass(frozen=True)
class RunFolder:
    """The files of one run."""

    root: Path

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.csv"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.ckpt"

    def read_summary(self) -> dict[str, Any] | None:
        """The summary, or None if the run never started; a corrupt file raises with the fix."""
        if not self.summary.exists():
            return None
        try:
            summary = json.loads(self.summary.read_text())
        except (OSError, ValueError) as error:
            raise RunRecordError(
                f"{self.summary} is unreadable ({error.__class__.__name__}); delete it or rerun with FORCE=1"
            ) from None
        if not isinstance(summary, dict) or summary.get("status") not in STATUSES:
            raise RunRecordError(f"{self.summary} has no valid status; delete it or rerun with FORCE=1")
        return summary

    def write_summary(self, summary: dict[str, Any]) -> None:
        text = json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n"
        atomic_write(self.summary, lambda p: p.write_text(text))

    def write_config(self, cfg: DictConfig) -> None:
        text = OmegaConf.to_yaml(cfg, resolve=True)
        atomic_write(self.config, lambda p: p.write_text(text))

    def lock(self) -> FileLock:
        """An exclusive lock on the folder; ``acquire`` fails at once if another process holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / ".lock"), timeout=0)


def config_hash(cfg: DictConfig) -> str:
    """A short hash of everything in the config that can change a run's result."""
    data = OmegaConf.to_container(cfg, resolve=True)
    for key in UNHASHED_KEYS:
        data.pop(key, None)
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def acquire(lock: FileLock, folder: RunFolder) -> None:
    try:
        lock.acquire()
    except Timeout:
        raise RunRecordError(f"{folder.root} is being trained by another process (lock held); wait for it") from None
