"""A store's layout and how everything else reads it.

A store is a results directory; its runs live in ``<results_dir>/runs/<scale>/<ablation>/<variant>/seed<k>/``
with config.yaml, metrics.csv and summary.json. ``STORES`` names the two a user picks from: the local,
git-ignored store the commands write by default, and the committed study. ``read_records`` is how
analysis and comparison read a store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inception_repro.store.folder import RunFolder
from inception_repro.store.history import history_problem
from inception_repro.store.summary import load_summary

STORES = {"local": "results/local", "study": "results"}
"""results_dir of each store: the user's own runs (git-ignored) and the committed study."""
_SEED_DIR = re.compile(r"seed(\d+)")


def run_path(results_dir: str | Path, scale: str, ablation: str, variant: str, seed: int) -> Path:
    """The folder of one run in the store ``results_dir`` (configs/train.yaml's run_dir says the same)."""
    return Path(results_dir) / "runs" / scale / ablation / str(variant) / f"seed{seed}"


@dataclass(frozen=True)
class RunRecord:
    """One run folder of a store as found: its identity (from the folder), summary (as read), and
    why it cannot be trusted (None if it can)."""

    root: Path
    identity: dict[str, Any]
    summary: Any
    problem: str | None
    problem_file: str = "summary.json"  # the file the problem is in (metrics.csv for a broken history)

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
    """The run in ``root``: identity from the folder path, the summary, and its problem if any (the
    summary's, else a complete run's history's)."""
    identity: dict[str, Any] = {"scale": root.parents[2].name, "ablation": root.parents[1].name, "variant": root.parent.name}
    match = _SEED_DIR.fullmatch(root.name)
    if match is None:
        return RunRecord(root, identity, None, f"folder name {root.name!r} is not seed<k>")
    identity["seed"] = int(match.group(1))
    summary, problem = load_summary(root / "summary.json", identity)
    if problem is None and summary["status"] == "complete" and (problem := history_problem(RunFolder(root).metrics)):
        return RunRecord(root, identity, summary, problem, "metrics.csv")
    return RunRecord(root, identity, summary, problem)


def complete_runs_by_hash(results_dir: str | Path, scale: str) -> dict[str, RunFolder]:
    """The complete runs of one scale of a store, by config hash: the runs a grid can share."""
    found: dict[str, RunFolder] = {}
    root = Path(results_dir)
    for record in read_records(root, scale) if root.is_dir() else []:
        summary = record.summary
        if record.problem is None and summary.get("status") == "complete" and summary.get("config_hash"):
            found.setdefault(summary["config_hash"], record.folder)
    return found
