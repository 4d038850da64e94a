"""Training the probe's runs (``make probe``): for each design the configs of the paired comparisons,
seed by seed, a config two comparisons share trained once; a complete run is read back instead of
trained again, and results/bench/probes.json is rewritten after every run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from inception_repro.bench.probe_stats import Comparison, probe_result
from inception_repro.config import compose_run
from inception_repro.metrics import STUDY_METRIC
from inception_repro.provenance import atomic_write
from inception_repro.store import config_hash
from inception_repro.train import train_run


def run_config(ablation: str, variant: str, seed: int, overrides: list[str]) -> DictConfig:
    """A probed run's config: the cpu scale unless ``overrides`` name one, no logger."""
    scale = [] if any(o.startswith("scale=") for o in overrides) else ["scale=cpu"]
    return compose_run([f"ablation={ablation}", f"variant={variant}", f"seed={seed}", "logger=none", *scale, *overrides])


def run_record(summary: dict[str, Any], ablation: str, variant: str, seed: int) -> dict[str, Any]:
    keys = ("status", STUDY_METRIC, "wall_time_s", "grid_sizes", "train_images_per_s", "config_hash", "git_commit")
    return {"ablation": ablation, "variant": variant, "seed": seed, **{k: summary.get(k) for k in keys}}


def probe_configs(comparisons: list[Comparison]) -> list[tuple[str, str]]:
    """The (ablation, variant) configs the comparisons need, each once, in order."""
    return list(dict.fromkeys((c.ablation, v) for c in comparisons for v in (c.control, c.variant)))


def probe(designs: dict[str, tuple[str, ...]], comparisons: list[Comparison], seeds: list[int], overrides: list[str],
          runs_dir: Path, out: Path, budget_hours: float, runs_per_seed: int, workers: int) -> dict[str, Any]:
    """Train (or read back) every run, seed by seed; a config two comparisons share is trained once;
    ``out`` is rewritten after each run."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in designs}
    result: dict[str, Any] = {}
    for seed in seeds:
        for name, design in designs.items():
            trained: dict[str, dict[str, Any]] = {}
            for ablation, variant in probe_configs(comparisons):
                cfg = run_config(ablation, variant, seed, [*overrides, *design, f"results_dir={runs_dir / name}"])
                key = config_hash(cfg)
                if key not in trained:
                    trained[key] = train_run(cfg).to_dict()
                runs[name].append(run_record(trained[key], ablation, variant, seed))
                result = probe_result(designs, runs, comparisons, budget_hours, runs_per_seed, workers)
                write(result, out)
    return result


def write(result: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2, default=str) + "\n"
    atomic_write(out, lambda p: p.write_text(text))
