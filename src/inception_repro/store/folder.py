"""The files of one run folder: paths, the lock, atomic writes, and the guarded delete.

Every record file is written to a temporary name and renamed, so a run killed at any instant
leaves either the previous record or the new one; summary.json is the first file of a new run
folder, its marker. A lock per run (``.seed<k>.lock`` beside its folder) keeps two processes from
training the same run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from omegaconf import DictConfig, OmegaConf

from inception_repro.errors import UserError
from inception_repro.provenance import atomic_write
from inception_repro.store.identity import config_hash
from inception_repro.store.summary import Summary, SummaryProblem, load_summary, read_json


class RunRecordError(UserError):
    """A run record that cannot be read or written."""


class RunBusyError(RunRecordError):
    """The run folder is locked by another process training that run."""


class ConfigChangedError(RunRecordError):
    """A recorded run was made with another config than the one asked for now."""


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

    @property
    def lock_path(self) -> Path:
        """Beside the folder, so that a run folder exists only once it holds a summary."""
        return self.root.parent / f".{self.root.name}.lock"

    @property
    def log_path(self) -> Path:
        """A grid worker's output for this run (ablate --jobs), beside the folder like the lock."""
        return self.root.parent / f".{self.root.name}.log"

    def check_usable(self) -> None:
        """Refuse a run folder that is a file or lies under one, or that is, or holds, a symbolic link
        where the run writes or deletes: its writes and deletes must stay inside the folder."""
        blocker = next((p for p in (self.root, *self.root.parents) if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            raise RunRecordError(f"cannot write the run folder {self.root}: {blocker} is a file, not a folder; move it "
                                 "away or choose another results_dir=<dir>")
        for path in (self.root, self.summary, self.config, self.metrics, self.checkpoints, self.last_checkpoint,
                     self.root / "wandb"):
            if path.is_symlink():
                raise RunRecordError(f"refusing to use {path}: it is a symbolic link (to {os.readlink(path)}), and a run "
                                     "writes and deletes only inside its own folder; replace the link with a real folder or file")

    def read_summary(self) -> Summary | None:
        """The summary, or None if the run never started; a corrupt or hand-edited file raises with the fix."""
        if not self.summary.exists():
            return None
        data, problem = read_json(self.summary)
        try:
            if problem:
                raise SummaryProblem(problem)
            return Summary.from_dict(data)  # checked once, as it is read
        except SummaryProblem as broken:
            raise RunRecordError(
                f"{self.summary} is a broken record ({broken}); delete the run folder {self.root} to train that run again"
            ) from None

    def write_summary(self, summary: Summary) -> None:
        self.root.mkdir(exist_ok=True)
        text = summary.to_json()
        atomic_write(self.summary, lambda p: p.write_text(text))

    def write_config(self, cfg: DictConfig) -> None:
        text = OmegaConf.to_yaml(cfg, resolve=True)
        atomic_write(self.config, lambda p: p.write_text(text))

    @staticmethod
    def config_change(summary: Summary, cfg: DictConfig) -> str | None:
        """How the recorded run's config hash differs from ``cfg``'s, or None if it does not."""
        recorded, wanted = summary.config_hash, config_hash(cfg)
        return None if recorded == wanted else f"config hash {recorded} -> {wanted}"

    def replaceable(self, summary: Summary) -> bool:
        """A record that a run under a changed config replaces: it failed, or stopped before its
        first checkpoint. Its config (a typo, a diverging value) must not block the corrected one."""
        return summary.status == "failed" or (summary.status == "incomplete" and not self.last_checkpoint.exists())

    def check_config(self, summary: Summary, cfg: DictConfig) -> None:
        """Refuse to skip, resume or overwrite a complete or resumable run recorded under another
        config (``--force`` reruns it)."""
        change = self.config_change(summary, cfg)
        if change and not self.replaceable(summary):
            raise ConfigChangedError(
                f"config changed since {self.root} was run ({change}); refusing to mix them: "
                "undo the change, or rerun with FORCE=1"
            )

    def clear(self, identity: dict[str, Any]) -> None:
        """Remove the run's folder (record, checkpoints, W&B files) for a forced rerun.

        Only a folder whose summary.json (every run folder's first file, its marker) names this
        ``identity`` (``run_identity``) is removed; anything else raises and is left as it is.
        """
        if not self.root.exists():
            return
        self.check_clearable(identity)
        shutil.rmtree(self.root)

    def check_clearable(self, identity: dict[str, Any]) -> None:
        """Raise unless ``clear`` may remove this existing folder: a run folder recording ``identity``."""
        self.check_usable()
        refusal = f"refusing to delete {self.root}"
        if not self.summary.is_file():
            raise RunRecordError(f"{refusal}: it is not a run folder (no summary.json); move it away or choose another run_dir")
        recorded, problem = load_summary(self.summary)
        if recorded is None:
            raise RunRecordError(f"{refusal}: its {problem}; delete the folder yourself if it is a run")
        if not _same_run(recorded, identity):
            raise RunRecordError(f"{refusal}: it records another run than {identity}; move it away or choose another run_dir")

    def write_shared(self, source: RunFolder, cfg: DictConfig, identity: dict[str, Any]) -> None:
        """Record the complete run in ``source`` (the same config, trained for another grid) as this
        run (``identity``): this run's config, the source's metrics and summary under this run's
        names, with ``shared_from`` naming the run that trained it (``<ablation>/<variant>/seed<k>``).
        A record already here is replaced (``clear``), once the source is known to be shareable. Hold this run's lock."""
        summary = source.read_summary()
        if summary is None or summary.status != "complete" or self.config_change(summary, cfg):
            raise RunRecordError(f"{source.root} is not a complete run of this config; it cannot be shared")
        origin = summary.shared_from or "/".join(source.root.parts[-3:])
        self.clear(identity)
        self.root.mkdir(parents=True, exist_ok=True)
        self.write_summary(summary.updated(**identity, shared_from=origin, force_token=None))
        self.write_config(cfg)
        if source.metrics.is_file():
            history = source.metrics.read_bytes()
            atomic_write(self.metrics, lambda p: p.write_bytes(history))

    def remove_partial_writes(self) -> None:
        """Delete the temporary files of writes that a killed process left unfinished (hold the lock)."""
        for tmp in [*self.root.glob(".*.tmp"), *self.checkpoints.glob(".*.tmp")]:
            tmp.unlink(missing_ok=True)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the run's lock; ``RunBusyError`` at once if another process holds it."""
        try:
            self.root.parent.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(self.lock_path), timeout=0)
            lock.acquire()
        except Timeout:
            raise RunBusyError(f"{self.root} is being trained by another process (lock held); wait for it") from None
        except OSError as error:
            raise RunRecordError(
                f"cannot write the run folder {self.root} ({error.__class__.__name__}: {error.strerror or error}); "
                "choose a writable results_dir=<dir>"
            ) from None
        try:
            yield
        finally:
            lock.release()


def _same_run(recorded: Any, identity: dict[str, Any]) -> bool:
    """Whether a summary records the run ``identity`` names (older summaries record no scale)."""
    if not isinstance(recorded, dict):
        return False
    return all(recorded.get(k) == v for k, v in identity.items() if k != "scale" or "scale" in recorded)
