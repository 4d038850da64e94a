"""What the probe (``make probe``) reads from its runs: per design, seconds per run, each paired
comparison's deltas, their sd pooled over the comparisons, and the smallest effect a paired t-test
detects (analysis.power) with the seeds probed and with the seeds the budget buys; ``probe_result``
is what results/bench/probes.json holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch

from inception_repro.analysis.power import ALPHA, POWER, minimum_detectable_effect
from inception_repro.analysis.stats import pooled_sd, summarize
from inception_repro.metrics import STUDY_METRIC
from inception_repro.provenance import provenance


@dataclass(frozen=True)
class Comparison:
    """One paired comparison the designs are probed on: two variants of one ablation."""

    ablation: str
    control: str
    variant: str

    @property
    def label(self) -> str:
        return f"{self.ablation} {self.variant} - {self.control}"


def detectable_effect(sd: float, n: int) -> float | None:
    """The smallest true mean delta a paired t-test on ``n`` pairs finds (analysis.power), or None."""
    effect = minimum_detectable_effect(sd, n)  # NaN below 2 pairs or without a positive sd
    return None if math.isnan(effect) else effect


def comparison_stats(done: list[dict[str, Any]], comparison: Comparison) -> dict[str, Any]:
    """The paired deltas of one comparison over the seeds where both of its runs are complete."""
    by_variant = {v: {r["seed"]: r[STUDY_METRIC] for r in done if (r["ablation"], r["variant"]) == (comparison.ablation, v)}
                  for v in (comparison.control, comparison.variant)}
    seeds = sorted(set(by_variant[comparison.control]) & set(by_variant[comparison.variant]))
    deltas = [100.0 * (by_variant[comparison.variant][k] - by_variant[comparison.control][k]) for k in seeds]
    delta = summarize(deltas)
    return {"comparison": comparison.label, "seeds": seeds, "mean_delta_pp": delta.mean if deltas else None,
            "paired_sd_pp": delta.sd if len(deltas) > 1 else None}


def design_stats(runs: list[dict[str, Any]], comparisons: list[Comparison], budget_s: float,
                 runs_per_seed: float) -> dict[str, Any]:
    """Seconds per run, each comparison's paired deltas, their pooled sd and the detectable effects."""
    done = [r for r in runs if r["status"] == "complete"]
    per_comparison = [comparison_stats(done, c) for c in comparisons]
    scored = pd.DataFrame({"n_seeds": [len(c["seeds"]) for c in per_comparison],
                           "paired_sd_pp": [c["paired_sd_pp"] for c in per_comparison]}, dtype=float)
    sd = pooled_sd(scored)
    seeds = min(len(c["seeds"]) for c in per_comparison)  # every comparison has at least these
    trained = {r["config_hash"]: r["wall_time_s"] for r in done}  # a config's run counted once
    seconds = sum(trained.values()) / len(trained) if trained else None
    affordable = int(budget_s // (seconds * runs_per_seed)) if seconds else None
    return {
        "seconds_per_run": seconds,
        "comparisons": per_comparison,
        "n_seeds": seeds,
        "pooled_sd_pp": sd if math.isfinite(sd) else None,
        "detectable_pp": detectable_effect(sd, seeds),
        "seeds_in_budget": affordable,
        "detectable_in_budget_pp": detectable_effect(sd, affordable) if affordable else None,
    }


def probe_result(designs: dict[str, tuple[str, ...]], runs: dict[str, list[dict[str, Any]]],
                 comparisons: list[Comparison], budget_hours: float, runs_per_seed: int, workers: int) -> dict[str, Any]:
    return {
        "provenance": provenance(torch_version=torch.__version__, torch_threads=torch.get_num_threads()),
        "comparisons": [vars(c) for c in comparisons],
        "budget_hours": budget_hours,
        "study_runs_per_seed": runs_per_seed,
        "workers": workers,
        "power": POWER,
        "alpha": ALPHA,
        "designs": [
            {"name": name, "overrides": list(designs[name]), "runs": runs[name],
             **design_stats(runs[name], comparisons, budget_hours * 3600, runs_per_seed / workers)}
            for name in designs
        ],
    }
