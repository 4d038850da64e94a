"""Seed statistics and the verdict rule (paper claims: configs/ablations/*.yaml).

THE RULE, as of 2026-12-01 (RULE_DATE), written before the runs of the study-design rerun exist:

1. Only `status == "complete"` runs of ONE scale are used; mixing scales raises ValueError.
2. For a claim, control and variant runs are paired by seed (seeds present in both);
   delta = variant - control of test top-1, in percentage points. Its 95% Student-t interval has
   n - 1 degrees of freedom. Fewer than 2 pairs, or deltas with no spread at all: `inconclusive`;
   no pairs: `no runs`.
3. Directional claims (the paper finds the variant better, +1, or worse, -1): `supports` when the
   interval lies wholly on the paper's side of 0, `contradicts` when wholly on the other side,
   else `inconclusive`. (Two one-sided t-tests at ALPHA / 2 = 0.025 each.)
4. "No difference" claims (direction 0): two one-sided tests (TOST) against EQUIVALENCE_MARGIN,
   each at ALPHA / 2, i.e. `supports` when the whole interval lies inside +-margin,
   `contradicts` only when it lies wholly outside the margin (beyond +margin or below -margin),
   else `inconclusive`. The margin is 1 top-1 point because the paper itself draws the line
   there: in Table 2 it calls a 0.2-point loss "quite close" and treats 1.4 points as a loss.
5. Multiplicity: each claim's p-value is 2 x the smallest one-sided p of the tests in 3 / 4
   (so p < ALPHA exactly when the raw verdict is not `inconclusive`). Holm's step-down method
   adjusts these across the family of distinct comparisons with at least 2 pairs; `holm_verdict`
   keeps the raw verdict where the adjusted p < ALPHA, else reads `inconclusive`. Both are shown.
6. Claims that compare the same pair of configs (the runs' config.yaml without labels, seed and
   paths) are one comparison: computed once, shown once, on the row of the first such claim.

What happened before, from this file's history: the first rule (commit 5849c5d, 2026-11-28
16:46 UTC) was committed before the first run records (9973bb1, 17:30 UTC). Its "no difference"
verdict read `supports` whenever the interval held 0, else `contradicts`. The +-1 point margin
was added at 20:03 (5938946), after results existed (run records of 17:30 and 18:55, b8bf5c8,
where a 2-seed interval tens of points wide had counted as support for "no difference"). That
version still read `contradicts` whenever the interval excluded 0, even inside the margin, and
made no account of multiplicity. The rule above replaces it before any of the new runs exist.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats as sps

from ..metrics import STUDY_METRIC
from ..ablations import ablation_names, load_ablation
from .collect import complete_runs
from .power import ALPHA

RULE_DATE = "2026-12-01"
CONFIDENCE = 1 - ALPHA
EQUIVALENCE_MARGIN = 1.0  # percentage points of top-1; justified in rule 4 above
DELTA_DECIMALS = 4  # per-seed deltas are rounded to 1e-4 points: float32 accuracies carry ~1e-6
SUPPORTS, CONTRADICTS, INCONCLUSIVE, NO_RUNS = "supports", "contradicts", "inconclusive", "no runs"


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
    """Mean, sd (ddof=1), n and 95% Student-t interval. The interval is NaN when n < 2 or when
    the values do not vary at all (a t-interval of width 0 would claim a certainty n seeds lack)."""
    x = np.asarray(list(values), dtype=float)
    if np.isnan(x).any():
        raise ValueError("summarize() got NaN values: a run lacks this metric")
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    if n < 2:
        return Summary(mean, math.nan, n, math.nan, math.nan)
    sd = float(x.std(ddof=1))
    if sd == 0.0:
        return Summary(mean, sd, n, math.nan, math.nan)
    half = float(sps.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * sd / math.sqrt(n)
    return Summary(mean, sd, n, mean - half, mean + half)


def check_single_scale(df: pd.DataFrame) -> str | None:
    """The one scale of `df`'s rows (None if empty); ValueError if rows of several scales."""
    scales = sorted(df["scale"].dropna().unique())
    if len(scales) > 1 or (scales and df["scale"].isna().any()):
        raise ValueError(f"refusing to compare runs of different scales: {scales}; "
                         "filter to one scale first")
    return scales[0] if scales else None


def paired_delta(df: pd.DataFrame, control: str, variant: str, metric: str = STUDY_METRIC,
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
    s = summarize(np.round(100.0 * (wide[variant] - wide[control]), DELTA_DECIMALS))
    used = rows[rows["seed"].isin(wide.index)]
    return PairedDelta(*s, seeds=tuple(int(k) for k in wide.index),
                       run_dirs=tuple(sorted(used["run_dir"])))


def verdict(ci_low: float, ci_high: float, direction: int) -> str:
    """Rules 3 and 4 applied to a 95% interval; a NaN bound (n < 2, no spread) is `inconclusive`."""
    if direction not in (-1, 0, 1):
        raise ValueError(f"direction must be -1, 0 or +1, got {direction!r}")
    if math.isnan(ci_low) or math.isnan(ci_high):
        return INCONCLUSIVE
    if direction == 0:
        if -EQUIVALENCE_MARGIN < ci_low and ci_high < EQUIVALENCE_MARGIN:
            return SUPPORTS
        outside = ci_low > EQUIVALENCE_MARGIN or ci_high < -EQUIVALENCE_MARGIN
        return CONTRADICTS if outside else INCONCLUSIVE
    low, high = (ci_low, ci_high) if direction > 0 else (-ci_high, -ci_low)
    if low > 0.0:
        return SUPPORTS
    return CONTRADICTS if high < 0.0 else INCONCLUSIVE


def rule_p_value(mean: float, sd: float, n: int, direction: int) -> float:
    """Rule 5: 2 x the smallest one-sided p of the tests behind rules 3 / 4 (paired t, n - 1
    degrees of freedom); p < ALPHA exactly when `verdict` is not `inconclusive`. NaN when the
    interval is (n < 2 or no spread)."""
    if n < 2 or not sd > 0:
        return math.nan
    se, df = sd / math.sqrt(n), n - 1
    if direction != 0:
        one_sided = min(sps.t.sf(mean / se, df), sps.t.cdf(mean / se, df))
    else:
        above_low = sps.t.sf((mean + EQUIVALENCE_MARGIN) / se, df)   # H0: delta <= -margin
        below_high = sps.t.cdf((mean - EQUIVALENCE_MARGIN) / se, df)  # H0: delta >= +margin
        outside = min(1 - below_high, 1 - above_low)                  # H0: delta inside, one side
        one_sided = min(max(above_low, below_high), outside)
    return float(min(1.0, 2.0 * one_sided))


def holm(p_values: Iterable[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN entries stay NaN and do not count in the family)."""
    p = list(p_values)
    family = sorted((v, i) for i, v in enumerate(p) if not math.isnan(v))
    adjusted, running = [math.nan] * len(p), 0.0
    for rank, (value, i) in enumerate(family):
        running = max(running, min(1.0, (len(family) - rank) * value))
        adjusted[i] = running
    return adjusted


def variant_order(ablation: str, present: Iterable[str]) -> list[str]:
    """The `present` variants in the order configs/ablations/<ablation>.yaml lists them, then any
    it does not list (or all, for an ablation without a config), sorted."""
    present = set(present)
    listed = load_ablation(ablation).variants if ablation in ablation_names() else {}
    known = [v for v in listed if v in present]
    return known + sorted(present - set(known))


def variant_summary(runs_df: pd.DataFrame, ablation: str, scale: str,
                    metric: str = STUDY_METRIC) -> pd.DataFrame:
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



def pooled_sd(claims: pd.DataFrame) -> float:
    """The paired sd pooled over the comparisons with one: sqrt(sum (n - 1) sd^2 / sum (n - 1))."""
    rows = claims.dropna(subset=["paired_sd_pp"])
    df = rows["n_seeds"].astype(float) - 1.0
    return math.sqrt(float((df * rows["paired_sd_pp"] ** 2).sum() / df.sum())) if df.sum() > 0 else math.nan
