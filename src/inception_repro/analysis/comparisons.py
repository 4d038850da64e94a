"""The claims table: every paper claim (configs/ablations/*.yaml) at one scale, grouped into the
distinct comparisons it makes, each with our paired delta, the verdict rule's reading raw and after
Holm's adjustment, what the runs could detect and what would resolve it.

Rules 5 and 6 of the verdict rule (analysis/stats.py): claims that compare the same pair of configs
are one comparison, computed once; Holm's method adjusts over the family of those comparisons.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import yaml

from ..metrics import STUDY_METRIC
from ..ablations import Claim, all_claims
from ..provenance import short_commit
from ..store.identity import UNHASHED_KEYS
from .collect import complete_runs
from .power import ALPHA, minimum_detectable_effect, seeds_for_half_width, seeds_for_power
from .stats import (
    EQUIVALENCE_MARGIN,
    INCONCLUSIVE,
    NO_RUNS,
    PairedDelta,
    holm,
    paired_delta,
    rule_p_value,
    verdict,
)

TARGET_HALF_WIDTH = 1.0  # percentage points: `seeds_for_1pp` aims at a +-1 point interval
LABEL_KEYS = ("ablation", "variant", "seed")  # in config.yaml, but not part of what a run computes
CLAIMS_COLUMNS = (
    "claim", "paper_section", "paper_delta", "ours_delta", "ci_low", "ci_high", "n_seeds",
    "paper_in_ci", "paired_sd_pp", "mde_pp", "seeds_for_1pp", "p_value", "verdict", "holm_p", "holm_verdict",
    "seeds_to_resolve", "cpu_hours_to_resolve", "same_comparison_as", "shares_runs_with",
    "commits", "scale",
)


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



def claims_table(runs_df: pd.DataFrame, scale: str, metric: str = STUDY_METRIC) -> pd.DataFrame:
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
