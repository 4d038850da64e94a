"""``make probe``'s ``--merge``: one probe result from the probes.json files of probes run apart,
training nothing; every run must be what its design's overrides compose to today.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from inception_repro.bench.probe_runs import run_config
from inception_repro.bench.probe_stats import Comparison, probe_result
from inception_repro.errors import ConfigError
from inception_repro.store import config_hash


def merge(files: list[Path], designs: dict[str, tuple[str, ...]], overrides: list[str], budget_hours: float,
          runs_per_seed: int, workers: int) -> dict[str, Any]:
    """One result from the probes.json files of probes run apart on the same comparisons (other
    designs, or other seeds of one design). ``designs`` may restate a design's overrides; every run
    must be what its design's overrides compose to today (its config hash), so the table never
    names overrides its runs were not trained with."""
    parts = [_read_probe(f) for f in files]
    if len({json.dumps(p["comparisons"], sort_keys=True) for p in parts}) != 1:
        raise ConfigError("--merge: the files probe different comparisons")
    stated = {d["name"]: tuple(d["overrides"]) for p in parts for d in p["designs"]}
    unknown = set(designs) - set(stated)
    if unknown:
        raise ConfigError(f"--merge: no file probes the design {sorted(unknown)[0]!r}")
    stated.update(designs)
    runs: dict[str, dict[tuple, dict[str, Any]]] = {name: {} for name in stated}
    for d in (d for p in parts for d in p["designs"]):
        for r in d["runs"]:
            key = (r["ablation"], r["variant"], r["seed"])
            if runs[d["name"]].setdefault(key, r) != r:
                raise ConfigError(f"--merge: two files record {d['name']} {'/'.join(map(str, key))} differently")
    for name, by_key in runs.items():
        for (ablation, variant, seed), r in by_key.items():
            if r.get("config_hash") != config_hash(run_config(ablation, variant, seed, [*overrides, *stated[name]])):
                raise ConfigError(f"--merge: the run {name} {ablation}/{variant}/seed{seed} was not trained with the "
                                  f"config its design's overrides give today; restate them: --design {name} OVERRIDE...")
    comparisons = [Comparison(**c) for c in parts[0]["comparisons"]]
    return probe_result(stated, {n: list(r.values()) for n, r in runs.items()}, comparisons, budget_hours,
                        runs_per_seed, workers)


def _read_probe(path: Path) -> dict[str, Any]:
    try:
        result = json.loads(path.read_text())
        if not result["comparisons"] or any(k not in r for d in result["designs"] for r in d["runs"]
                                            for k in ("ablation", "variant", "seed", "config_hash")):
            raise KeyError("runs")
    except (OSError, ValueError) as error:
        raise ConfigError(f"--merge: cannot read {path} ({error.__class__.__name__})") from None
    except (KeyError, TypeError):
        raise ConfigError(f"--merge: {path} is not a probe result of this version (make probe writes one)") from None
    return result
