"""Seed statistics and the verdict rule (DESIGN.md, "Honest statistics").

The rule, fixed before any result is seen:

1. Only `status == "complete"` runs of ONE scale are used; mixing scales raises ValueError.
2. For a claim (paper.CLAIMS), control and variant runs of its ablation are paired by seed (seeds
   present in both); delta = variant - control of test top-1, in percentage points.
3. The mean delta gets a 95% Student-t interval (n - 1 degrees of freedom).
4. Paper direction +1 / -1 (variant better / worse): `supports` if the interval excludes 0 on the
   paper's side, `contradicts` if it excludes 0 on the other side, else `inconclusive`.
   Direction 0 (paper expects no difference): `supports` if the whole interval lies within
   +-EQUIVALENCE_MARGIN percentage points, `contradicts` if it excludes 0, else `inconclusive`.
   Fewer than 2 pairs: `inconclusive`; no pairs: `no runs`.

The margin was added after the first reduced-budget results, where a 2-seed interval of -29 to
+26 points counted as support for "no difference"; it can only turn a `supports` into
`inconclusive`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats as sps

from ..ablations import ablation_names, load_ablation
from .collect import complete_runs
from .paper import CLAIMS

CONFIDENCE = 0.95
EQUIVALENCE_MARGIN = 1.0  # percentage points: "no difference" means within +-1 top-1 point
SUPPORTS, CONTRADICTS, INCONCLUSIVE, NO_RUNS = "supports", "contradicts", "inconclusive", "no runs"
CLAIMS_COLUMNS = ("claim", "paper_section", "paper_delta", "ours_delta", "ci_low", "ci_high",
                  "n_seeds", "scale", "verdict")


class Summary(NamedTuple):
    """Mean, sample sd (ddof=1), n and 95% t-interval of the mean."""

    mean: float
    sd: float
    n: int
    ci_low: float
    ci_high: float


class PairedDelta(NamedTuple):
    """`Summary` of per-seed deltas (percentage points) plus the seeds and run folders used."""

    mean: float
    sd: float
    n: int
    ci_low: float
    ci_high: float
    seeds: tuple[int, ...]
    run_dirs: tuple[str, ...]


def summarize(values: Iterable[float]) -> Summary:
    """Mean, sd (ddof=1), n and 95% Student-t interval; sd/interval are NaN when n < 2."""
    x = np.asarray(list(values), dtype=float)
    if np.isnan(x).any():
        raise ValueError("summarize() got NaN values: a run lacks this metric")
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    if n < 2:
        return Summary(mean, math.nan, n, math.nan, math.nan)
    sd = float(x.std(ddof=1))
    half = float(sps.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * sd / math.sqrt(n)
    return Summary(mean, sd, n, mean - half, mean + half)


def check_single_scale(df: pd.DataFrame) -> str | None:
    """The one scale of `df`'s rows (None if empty); ValueError if rows of several scales."""
    scales = sorted(df["scale"].dropna().unique())
    if len(scales) > 1 or (scales and df["scale"].isna().any()):
        raise ValueError(f"refusing to compare runs of different scales: {scales}; "
                         "filter to one scale first")
    return scales[0] if scales else None


def paired_delta(df: pd.DataFrame, control: str, variant: str, metric: str = "test_top1",
                 ablation: str | None = None) -> PairedDelta:
    """Per-seed `variant - control` of `metric` (x100, percentage points) over complete runs.

    `ablation` picks the ablation when variant names recur across ablations (ValueError if that
    is ambiguous). Duplicate runs of one variant and seed, or mixed scales, raise ValueError.
    """
    rows = complete_runs(df)
    if ablation is not None:
        rows = rows[rows["ablation"] == ablation]
    rows = rows[rows["variant"].isin([control, variant])]
    if rows["ablation"].nunique() > 1:
        raise ValueError(f"variants {control!r}/{variant!r} occur in several ablations "
                         f"{sorted(rows['ablation'].unique())}; pass ablation=")
    check_single_scale(rows)
    duplicated = rows[rows.duplicated(["variant", "seed"], keep=False)]
    if not duplicated.empty:
        raise ValueError(f"several complete runs for one variant and seed: "
                         f"{sorted(duplicated['run_dir'])}")
    wide = rows.pivot(index="seed", columns="variant", values=metric)
    wide = wide.reindex(columns=[control, variant]).dropna()
    s = summarize(100.0 * (wide[variant] - wide[control]))
    used = rows[rows["seed"].isin(wide.index)]
    return PairedDelta(*s, seeds=tuple(int(k) for k in wide.index),
                       run_dirs=tuple(sorted(used["run_dir"])))


def verdict(ci_low: float, ci_high: float, direction: int) -> str:
    """Apply the rule above to a 95% interval; NaN bounds (n < 2) are `inconclusive`."""
    if direction not in (-1, 0, 1):
        raise ValueError(f"direction must be -1, 0 or +1, got {direction!r}")
    if math.isnan(ci_low) or math.isnan(ci_high):
        return INCONCLUSIVE
    if direction == 0:
        if ci_low > 0.0 or ci_high < 0.0:
            return CONTRADICTS
        return SUPPORTS if -EQUIVALENCE_MARGIN <= ci_low and ci_high <= EQUIVALENCE_MARGIN else INCONCLUSIVE
    low, high = (ci_low, ci_high) if direction > 0 else (-ci_high, -ci_low)
    if low > 0.0:
        return SUPPORTS
    return CONTRADICTS if high < 0.0 else INCONCLUSIVE


def variant_order(ablation: str, present: Iterable[str]) -> list[str]:
    """The `present` variants in the order configs/ablations/<ablation>.yaml lists them, then any
    it does not list (or all, for an ablation without a config), sorted."""
    present = set(present)
    listed = load_ablation(ablation).variants if ablation in ablation_names() else {}
    known = [v for v in listed if v in present]
    return known + sorted(present - set(known))


def variant_summary(runs_df: pd.DataFrame, ablation: str, scale: str,
                    metric: str = "test_top1") -> pd.DataFrame:
    """Per variant of `ablation` at `scale`: mean, sd, n, ci_low, ci_high of `metric` in %.

    `.attrs` carries `scale` and the `run_dirs` used (for table/figure provenance).
    """
    rows = complete_runs(runs_df, scale)
    rows = rows[rows["ablation"] == ablation]
    table = pd.DataFrame(
        [{"variant": v, **summarize(100.0 * rows.loc[rows["variant"] == v, metric])._asdict()}
         for v in variant_order(ablation, rows["variant"])],
        columns=["variant", *Summary._fields],
    )
    table["scale"] = scale
    table.attrs.update(scale=scale, run_dirs=sorted(rows["run_dir"]))
    return table


def claims_table(runs_df: pd.DataFrame, scale: str, metric: str = "test_top1") -> pd.DataFrame:
    """Every paper claim with our paired delta at `scale`, its 95% interval and the verdict.

    Columns are exactly CLAIMS_COLUMNS; deltas in percentage points of top-1 accuracy (the paper's
    are ImageNet). Claims without paired complete runs have n_seeds=0 and verdict `no runs`.
    `.attrs` carries `scale` and the `run_dirs` used.
    """
    runs = complete_runs(runs_df, scale)
    rows, used = [], set()
    for c in CLAIMS:
        d = paired_delta(runs, c.control, c.variant, metric, ablation=c.ablation)
        used.update(d.run_dirs)
        rows.append({
            "claim": c.claim, "paper_section": c.paper_section,
            "paper_delta": math.nan if c.paper_delta is None else c.paper_delta,
            "ours_delta": d.mean, "ci_low": d.ci_low, "ci_high": d.ci_high, "n_seeds": d.n,
            "scale": scale,
            "verdict": NO_RUNS if d.n == 0 else verdict(d.ci_low, d.ci_high, c.direction),
        })
    table = pd.DataFrame(rows, columns=list(CLAIMS_COLUMNS))
    table.attrs.update(scale=scale, run_dirs=sorted(used))
    return table
