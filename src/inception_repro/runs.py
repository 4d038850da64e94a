"""Run records: the store layout, the summary schema, and the files of one run folder.

A store is a results directory; its runs live in ``<results_dir>/runs/<scale>/<ablation>/<variant>/seed<k>/``
with config.yaml, metrics.csv and summary.json. ``STORES`` names the two a user picks from: the local,
git-ignored store the commands write by default, and the committed study. ``read_records`` is how
everything else (analysis, comparison) reads a store.

Every record file is written to a temporary name and renamed, so a run killed at any instant
leaves either the previous record or the new one; summary.json is the first file of a new run
folder. A lock per run (``.seed<k>.lock`` beside its folder) keeps two processes from training
the same run.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
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

STATUSES = ("complete", "incomplete", "failed")
STORES = {"local": "results/local", "study": "results"}
"""results_dir of each store: the user's own runs (git-ignored) and the committed study."""
IDENTITY_KEYS = ("scale", "ablation", "variant", "seed")
METRIC_KEYS = ("val_top1", "val_top5", "test_top1", "test_top5")
NUMERIC_KEYS = (
    *METRIC_KEYS, "val_top1_raw", "val_top5_raw", "test_top1_raw", "test_top5_raw",
    "epochs", "wall_time_s", "train_images_per_s", "params", "macs",
)
SUMMARY_KEYS = (
    "status", *IDENTITY_KEYS, *NUMERIC_KEYS, "git_commit", "git_dirty", "torch_version", "num_threads", "platform", "cpu",
    "device", "started_at", "finished_at", "config_hash", "failure", "shared_from",
)
"""The keys of summary.json (train.py writes them; a run that fails early lacks the metrics)."""
_SEED_DIR = re.compile(r"seed(\d+)")
# Summary fields that must be numbers when present (the grid's table and the analysis compute with them).
NUMBER_FIELDS = ("wall_time_s", "epochs", "global_step")
# Keys that say where and how a run is recorded, not what it computes: two grids' runs with the same
# hash are one run (the names ablation and variant are not hashed), trained once and shared.
UNHASHED_KEYS = ("ablation", "variant", "logger", "results_dir", "run_dir", "allow_outside_results")


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

    def read_summary(self) -> dict[str, Any] | None:
        """The summary, or None if the run never started; a corrupt or hand-edited file raises with the fix."""
        if not self.summary.exists():
            return None
        summary, problem = _load_summary(self.summary)
        problem = problem or summary_problem(summary)
        if problem:
            raise RunRecordError(
                f"{self.summary} is a broken record ({problem}); delete the run folder {self.root} to train that run again"
            )
        return summary

    def write_summary(self, summary: dict[str, Any]) -> None:
        text = json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n"
        self.root.mkdir(exist_ok=True)
        atomic_write(self.summary, lambda p: p.write_text(text))

    def write_config(self, cfg: DictConfig) -> None:
        text = OmegaConf.to_yaml(cfg, resolve=True)
        atomic_write(self.config, lambda p: p.write_text(text))

    @staticmethod
    def config_change(summary: dict[str, Any], cfg: DictConfig) -> str | None:
        """How the recorded run's config hash differs from ``cfg``'s, or None if it does not."""
        recorded, wanted = summary.get("config_hash"), config_hash(cfg)
        return None if recorded == wanted else f"config hash {recorded} -> {wanted}"

    def replaceable(self, summary: dict[str, Any]) -> bool:
        """A record that a run under a changed config replaces: it failed, or stopped before its
        first checkpoint. Its config (a typo, a diverging value) must not block the corrected one."""
        return summary["status"] == "failed" or (summary["status"] == "incomplete" and not self.last_checkpoint.exists())

    def check_config(self, summary: dict[str, Any], cfg: DictConfig) -> None:
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
        refusal = f"refusing to delete {self.root}"
        if not self.summary.is_file():
            raise RunRecordError(f"{refusal}: it is not a run folder (no summary.json); move it away or choose another run_dir")
        recorded, problem = _load_summary(self.summary)
        if problem:
            raise RunRecordError(f"{refusal}: its {problem}; delete the folder yourself if it is a run")
        if not _same_run(recorded, identity):
            raise RunRecordError(f"{refusal}: it records another run than {identity}; move it away or choose another run_dir")
        shutil.rmtree(self.root)

    def write_shared(self, source: RunFolder, cfg: DictConfig) -> None:
        """Record the complete run in ``source`` (the same config, trained for another grid) as this
        run: this run's config, the source's metrics and summary under this run's names, with
        ``shared_from`` naming the run that trained it (``<ablation>/<variant>/seed<k>``). A record
        already here is replaced (``clear``), once the source is known to be shareable. Hold this run's lock."""
        summary = source.read_summary()
        if summary is None or summary["status"] != "complete" or self.config_change(summary, cfg):
            raise RunRecordError(f"{source.root} is not a complete run of this config; it cannot be shared")
        origin = summary.get("shared_from") or "/".join(source.root.parts[-3:])
        self.clear(run_identity(cfg))
        self.root.mkdir(parents=True, exist_ok=True)
        shared = {**summary, **run_identity(cfg), "shared_from": origin}
        shared.pop("force_token", None)
        self.write_summary(shared)
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


def run_identity(cfg: DictConfig) -> dict[str, Any]:
    """Which run a folder or checkpoint belongs to: the fields every summary.json records."""
    return {"ablation": cfg.ablation, "variant": str(cfg.variant), "seed": int(cfg.seed), "scale": cfg.scale.name}


def checkpoint_identity(cfg: DictConfig) -> dict[str, Any]:
    """What a last.ckpt records of its run, and must match to be resumed from."""
    return {"config_hash": config_hash(cfg), "seed": int(cfg.seed), "scale": cfg.scale.name}


def config_hash(cfg: DictConfig) -> str:
    """A short hash of everything in the config that can change a run's result."""
    data = OmegaConf.to_container(cfg, resolve=True)
    for key in UNHASHED_KEYS:
        data.pop(key, None)
    data.get("scale", {}).pop("seeds", None)  # how many seeds a grid runs by default, not what one run computes
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def complete_runs_by_hash(results_dir: str | Path, scale: str) -> dict[str, RunFolder]:
    """The complete runs of one scale of a store, by config hash: the runs a grid can share."""
    found: dict[str, RunFolder] = {}
    root = Path(results_dir)
    for record in read_records(root, scale) if root.is_dir() else []:
        summary = record.summary
        if record.problem is None and summary.get("status") == "complete" and summary.get("config_hash"):
            found.setdefault(summary["config_hash"], record.folder)
    return found


def run_path(results_dir: str | Path, scale: str, ablation: str, variant: str, seed: int) -> Path:
    """The folder of one run in the store ``results_dir`` (configs/train.yaml's run_dir says the same)."""
    return Path(results_dir) / "runs" / scale / ablation / str(variant) / f"seed{seed}"


@dataclass(frozen=True)
class RunRecord:
    """One run folder of a store as found: its identity (from the folder), summary, and why it cannot be trusted."""

    root: Path
    identity: dict[str, Any]
    summary: Any
    problem: str | None

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.root)


def _subdirs(path: Path, name: str | None = None) -> list[Path]:
    """Visible subfolders (all, or only ``name``)."""
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".") and name in (None, p.name))


def run_dirs(results_dir: str | Path, scale: str | None = None, ablation: str | None = None) -> list[Path]:
    """Every ``runs/<scale>/<ablation>/<variant>/<seed dir>`` folder of a store (of one scale / ablation if given)."""
    root = Path(results_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"results directory not found: {root}")
    return [
        s for sc in _subdirs(root / "runs", scale) for a in _subdirs(sc, ablation) for v in _subdirs(a) for s in _subdirs(v)
    ]


def read_records(results_dir: str | Path, scale: str | None = None, ablation: str | None = None) -> list[RunRecord]:
    """The record of every run folder of a store; an unreadable or inconsistent one has a ``problem``."""
    return [read_record(path) for path in run_dirs(results_dir, scale, ablation)]


def read_record(root: Path) -> RunRecord:
    """The run in ``root``: identity from the folder path, the summary, and its problem if any."""
    identity: dict[str, Any] = {"scale": root.parents[2].name, "ablation": root.parents[1].name, "variant": root.parent.name}
    match = _SEED_DIR.fullmatch(root.name)
    if match is None:
        return RunRecord(root, identity, None, f"folder name {root.name!r} is not seed<k>")
    identity["seed"] = int(match.group(1))
    summary, problem = _load_summary(root / "summary.json")
    return RunRecord(root, identity, summary, problem or summary_problem(summary, identity))


def _load_summary(path: Path) -> tuple[Any, str | None]:
    if not path.is_file():
        return None, "summary.json missing"
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except json.JSONDecodeError as err:
        return None, f"summary.json is not valid JSON ({err})"
    except (OSError, UnicodeDecodeError) as err:
        return None, f"summary.json is unreadable ({type(err).__name__}: {err})"


def summary_problem(summary: Any, expected: dict[str, Any] | None = None) -> str | None:
    """Why ``summary`` does not follow the schema, or None. ``expected``: the identity its folder implies."""
    if not isinstance(summary, dict):
        return "summary.json is not a JSON object"
    missing = [k for k in ("ablation", "variant", "seed") if summary.get(k) in (None, "")]
    if missing:
        return f"summary lacks {', '.join(missing)}"
    seed = summary["seed"]
    if not isinstance(seed, int) or isinstance(seed, bool):
        return f"seed {seed!r} is not an integer"
    for key, value in (expected or {}).items():
        if summary.get(key) != value:
            return f"summary says {key}={summary.get(key)!r} but the folder says {value!r}"
    if summary.get("status") not in STATUSES:
        return f"status {summary.get('status')!r} is not one of {', '.join(STATUSES)}"
    for key in (k for k in NUMBER_FIELDS if k in summary):
        if isinstance(summary[key], bool) or not isinstance(summary[key], (int, float)):
            return f"{key}={summary[key]!r} is not a number"
    if summary["status"] == "complete":
        if not isinstance(summary.get("scale"), str) or not summary["scale"]:
            return f"complete run has scale={summary.get('scale')!r}, not a name"
        for key in METRIC_KEYS:
            value = summary.get(key)
            if not isinstance(value, (int, float)) or isinstance(value, bool) \
                    or not math.isfinite(value) or not 0.0 <= value <= 1.0:
                return f"complete run has {key}={value!r}, not a fraction in [0, 1]"
    return None
