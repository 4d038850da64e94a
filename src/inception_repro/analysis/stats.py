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

import functools
import hashlib
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import yaml
from scipy import stats as sps

from ..ablations import ablation_names, load_ablation
from ..provenance import short_commit
from ..store.identity import UNHASHED_KEYS
from .collect import complete_runs
from ..ablations import Claim, all_claims
from .power import ALPHA, minimum_detectable_effect, seeds_for_half_width, seeds_for_power

RULE_DATE = "2026-12-01"
CONFIDENCE = 1 - ALPHA
EQUIVALENCE_MARGIN = 1.0  # percentage points of top-1; justified in rule 4 above
TARGET_HALF_WIDTH = 1.0  # percentage points: `seeds_for_1pp` aims at a +-1 point interval
DELTA_DECIMALS = 4  # per-seed deltas are rounded to 1e-4 points: float32 accuracies carry ~1e-6
SUPPORTS, CONTRADICTS, INCONCLUSIVE, NO_RUNS = "supports", "contradicts", "inconclusive", "no runs"
LABEL_KEYS = ("ablation", "variant", "seed")  # in config.yaml, but not part of what a run computes
CLAIMS_COLUMNS = (
    "claim", "paper_section", "paper_delta", "ours_delta", "ci_low", "ci_high", "n_seeds",
    "paper_in_ci", "paired_sd_pp", "mde_pp", "seeds_for_1pp", "p_value", "verdict", "holm_p", "holm_verdict",
    "seeds_to_resolve", "cpu_hours_to_resolve", "same_comparison_as", "shares_runs_with",
    "commits", "scale",
)


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


@functools.lru_cache(maxsize=None)
def _config_identity(config_path: str) -> str | None:
    path = Path(config_path)
    if not path.is_file():
        return None
    cfg = yaml.safe_load(path.read_text())
    for key in (*UNHASHED_KEYS, *LABEL_KEYS):
        cfg.pop(key, None)
    return hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()[:16]


def config_identity(runs: pd.DataFrame) -> pd.Series:
    """Per run, what it computed: a hash of its config.yaml without labels, seed and paths
    (`config_id` column if present; `ablation/variant` where no config.yaml can be read, e.g. W&B)."""
    if "config_id" in runs:
        return runs["config_id"]
    ids = [_config_identity(str(Path(r.run_dir) / "config.yaml")) or f"{r.ablation}/{r.variant}"
           for r in runs.itertuples(index=False)]
    return pd.Series(ids, index=runs.index, dtype=object)


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


class _Comparison(NamedTuple):
    """One distinct comparison: the claims it tests, its delta, and the runs behind it."""

    claims: list[Claim]
    delta: PairedDelta
    runs: pd.DataFrame


def _comparisons(runs: pd.DataFrame, metric: str) -> list[_Comparison]:
    """Rule 6: the claims grouped by the config pair they compare, each delta computed once."""
    found: dict[object, _Comparison] = {}
    for c in all_claims():
        d = paired_delta(runs, c.control, c.variant, metric, ablation=c.ablation)
        used = runs[runs["run_dir"].isin(d.run_dirs)]
        key = (frozenset(used.loc[used["variant"] == c.control, "config_id"]),
               frozenset(used.loc[used["variant"] == c.variant, "config_id"])) if d.n else c.claim
        if key in found:
            found[key].claims.append(c)
        else:
            found[key] = _Comparison([c], d, used)
    return list(found.values())


def _paper_in_ci(c: Claim, d: PairedDelta) -> str:
    """'true' / 'false': is the paper's delta (0 for a "no difference" claim) inside our interval;
    '' when the paper gives only a direction or we have no interval."""
    value = c.paper_delta if c.paper_delta is not None else (0.0 if c.direction == 0 else None)
    if value is None or math.isnan(d.ci_low):
        return ""
    return "true" if d.ci_low <= value <= d.ci_high else "false"


def _seeds_to_resolve(c: Claim, d: PairedDelta) -> float:
    """Seeds for 80% power on this claim at the observed sd: to detect the paper's delta (or one
    margin where it gives only a direction), or for a "no difference" claim to put the interval
    inside the margin when the true delta is 0. NaN without an sd."""
    if d.n < 2 or not d.sd > 0:
        return math.nan
    if c.direction == 0:
        return seeds_for_power(d.sd, EQUIVALENCE_MARGIN, equivalence=True)
    effect = abs(c.paper_delta) if c.paper_delta is not None else EQUIVALENCE_MARGIN
    return seeds_for_power(d.sd, effect)


def _run_keys(runs: pd.DataFrame) -> set[tuple[str, int]]:
    """A run is its config and seed: two folders of one config and seed are the same run, twice."""
    return set(zip(runs["config_id"], runs["seed"].astype(int)))


def pooled_sd(claims: pd.DataFrame) -> float:
    """The paired sd pooled over the comparisons with one: sqrt(sum (n - 1) sd^2 / sum (n - 1))."""
    rows = claims.dropna(subset=["paired_sd_pp"])
    df = rows["n_seeds"].astype(float) - 1.0
    return math.sqrt(float((df * rows["paired_sd_pp"] ** 2).sum() / df.sum())) if df.sum() > 0 else math.nan


def claims_table(runs_df: pd.DataFrame, scale: str, metric: str = "test_top1") -> pd.DataFrame:
    """One row per distinct comparison of paper claims (rule 6) at `scale`: the paper's delta, our
    paired delta with its 95% interval, the rule's verdict raw and after Holm, what the runs could
    detect (`mde_pp`, `seeds_for_1pp`), what would resolve it, and which runs it shares.

    Columns are exactly CLAIMS_COLUMNS; deltas in percentage points of top-1 accuracy (the paper's
    are ImageNet). Claims without paired complete runs have n_seeds=0 and verdict `no runs`.
    `.attrs` carries `scale` and the `run_dirs` used.
    """
    runs = complete_runs(runs_df, scale)
    runs = runs.assign(config_id=config_identity(runs))
    comparisons = _comparisons(runs, metric)
    keys = [_run_keys(cmp.runs) for cmp in comparisons]
    rows = []
    for cmp, mine in zip(comparisons, keys):
        c, d = cmp.claims[0], cmp.delta
        seeds = _seeds_to_resolve(c, d)
        raw = NO_RUNS if d.n == 0 else verdict(d.ci_low, d.ci_high, c.direction)
        extra = max(0.0, seeds - d.n) if not math.isnan(seeds) and raw == INCONCLUSIVE else 0.0
        hours_per_seed = cmp.runs.groupby("variant")["wall_time_s"].mean().sum() / 3600.0
        rows.append({
            "claim": c.claim, "paper_section": c.paper_section,
            "paper_delta": math.nan if c.paper_delta is None else c.paper_delta,
            "ours_delta": d.mean, "ci_low": d.ci_low, "ci_high": d.ci_high, "n_seeds": d.n,
            "paper_in_ci": _paper_in_ci(c, d),
            "paired_sd_pp": d.sd if d.n >= 2 else math.nan,
            "mde_pp": minimum_detectable_effect(d.sd, d.n),
            "seeds_for_1pp": (seeds_for_half_width(d.sd, TARGET_HALF_WIDTH)
                              if d.n >= 2 and d.sd > 0 else math.nan),
            "p_value": rule_p_value(d.mean, d.sd, d.n, c.direction) if d.n else math.nan,
            "verdict": raw,
            "seeds_to_resolve": seeds if raw == INCONCLUSIVE else math.nan,
            "cpu_hours_to_resolve": extra * hours_per_seed if extra else math.nan,
            "same_comparison_as": ", ".join(o.claim for o in cmp.claims[1:]),
            "shares_runs_with": ", ".join(o.claims[0].claim for o, theirs in zip(comparisons, keys)
                                          if o is not cmp and mine & theirs),
            "commits": " ".join(sorted({short_commit(g) for g in cmp.runs.get("git_commit", pd.Series())
                                        if isinstance(g, str)})),
            "scale": scale,
        })
    table = pd.DataFrame(rows)
    table["holm_p"] = holm(table["p_value"])
    table["holm_verdict"] = [v if p < ALPHA else (INCONCLUSIVE if v != NO_RUNS else v)
                             for v, p in zip(table["verdict"], table["holm_p"].fillna(1.0))]
    for col in ("seeds_for_1pp", "seeds_to_resolve"):
        table[col] = table[col].astype("Float64").round().astype("Int64")
    table = table[list(CLAIMS_COLUMNS)]
    table.attrs.update(scale=scale, run_dirs=sorted(runs.loc[runs["run_dir"].isin(
        [r for cmp in comparisons for r in cmp.delta.run_dirs]), "run_dir"]))
    return table
