"""Compare a store's runs with the committed study, run by run: bitwise equal, equal within noise, or different.

Two runs are matched by identity (scale, ablation, variant, seed). *Bitwise equal*: the same test
metrics and the same metrics.csv rows (timing columns aside). *Equal within noise*: test top-1 differs
by no more than the committed seeds' spread of that variant (max - min of their test top-1, at least
two seeds). Otherwise *different*. Whenever two runs are not bitwise equal, the provenance recorded in
both summaries says why they may differ (config hash, code commit, threads, platform, host CPU, torch,
device).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inception_repro.metrics import STUDY_METRIC
from inception_repro.provenance import short_commit
from inception_repro.store import RunRecord, read_records

BITWISE, NOISE, DIFFERENT, UNMATCHED = "bitwise equal", "equal within noise", "different", "no committed record"
PROVENANCE = (
    ("config_hash", "config hash"),
    ("git_commit", "code commit"),
    ("git_dirty", "uncommitted code changes"),
    ("num_threads", "thread count"),
    ("platform", "platform"),
    ("cpu", "host CPU"),
    ("torch_version", "torch"),
    ("device", "device"),
)
TIMING_SUFFIXES = ("_per_s", "_time_s")  # wall-clock columns of metrics.csv: never equal twice


@dataclass
class Comparison:
    """One run of the store against the committed record of the same identity."""

    run: str
    verdict: str
    detail: str = ""
    why: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = f"{self.run}: {self.verdict}" + (f" ({self.detail})" if self.detail else "")
        return text + (f"; why: {', '.join(self.why)}" if self.why else "")


def final_metrics(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary's test metrics (EMA and raw top-1 / top-5)."""
    return {k: v for k, v in summary.items() if k.startswith("test_")}


def history(root: Path) -> list[dict[str, str]]:
    """metrics.csv's rows without the timing columns (an empty list if there is no file)."""
    path = root / "metrics.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if not k.endswith(TIMING_SUFFIXES)} for row in csv.DictReader(f)]


def provenance_differences(mine: dict[str, Any], committed: dict[str, Any]) -> list[str]:
    """``code commit 776bafa -> e3e39b4``, one per provenance key that differs; unrecorded values say so."""
    def shown(key: str, value: Any) -> str:
        if value is None:
            return "not recorded"
        return short_commit(value) if key == "git_commit" else str(value)

    return [
        f"{label} {shown(key, committed.get(key))} -> {shown(key, mine.get(key))}"
        for key, label in PROVENANCE
        if committed.get(key) != mine.get(key)
    ]


def seed_spread(committed: list[RunRecord]) -> tuple[float, int] | None:
    """(max - min of test top-1, number of seeds) over complete committed runs, or None below two seeds."""
    accs = [r.summary[STUDY_METRIC] for r in committed if r.problem is None and r.summary["status"] == "complete"]
    return (max(accs) - min(accs), len(accs)) if len(accs) > 1 else None


def compare_run(mine: RunRecord, committed: RunRecord | None, spread: tuple[float, int] | None) -> Comparison:
    """The verdict for one run of the store; ``spread`` is its variant's committed ``seed_spread``."""
    name = "/".join(mine.root.parts[-3:])
    if mine.problem or mine.summary["status"] != "complete":
        return Comparison(name, "not comparable", mine.problem or f"this run is {mine.summary['status']}")
    if committed is None or committed.problem or committed.summary["status"] != "complete":
        return Comparison(name, UNMATCHED)
    a, b = mine.summary, committed.summary
    if final_metrics(a) == final_metrics(b) and history(mine.root) == history(committed.root):
        return Comparison(name, BITWISE)
    delta = a[STUDY_METRIC] - b[STUDY_METRIC]
    detail = f"test top-1 {a[STUDY_METRIC]:.4f} vs committed {b[STUDY_METRIC]:.4f}"
    if spread is None:
        verdict, detail = DIFFERENT, f"{detail}; fewer than 2 committed seeds, no spread to compare with"
    else:
        width, seeds = spread
        verdict = NOISE if abs(delta) <= width else DIFFERENT
        detail = f"{detail}, committed spread {width:.4f} over {seeds} seeds"
    return Comparison(name, verdict, detail, provenance_differences(a, b))


def compare_with_study(records: list[RunRecord], study: str | Path) -> list[Comparison]:
    """Each of ``records`` (runs of one store) against the committed record of the same identity in ``study``."""
    comparisons = []
    for record in records:
        scale, ablation, variant = (record.identity[k] for k in ("scale", "ablation", "variant"))
        committed = [r for r in _records(study, scale, ablation) if r.identity["variant"] == variant]
        same = next((r for r in committed if r.identity.get("seed") == record.identity.get("seed")), None)
        comparisons.append(compare_run(record, same, seed_spread(committed)))
    return comparisons


def _records(results_dir: str | Path, scale: str, ablation: str) -> list[RunRecord]:
    return read_records(results_dir, scale, ablation) if Path(results_dir).is_dir() else []
