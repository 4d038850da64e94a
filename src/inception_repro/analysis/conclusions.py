"""The verdict rule and "what the study can and cannot conclude", as Markdown for notebook 00
and the README's results section. Every number in the text comes from a claims table
(`comparisons.claims_table`, or results/tables/claims.csv read back); nothing is typed by hand.
"""

from __future__ import annotations

import pandas as pd

from ..ablations import all_claims
from .power import ALPHA, POWER
from .comparisons import TARGET_HALF_WIDTH
from .stats import CONTRADICTS, EQUIVALENCE_MARGIN, NO_RUNS, RULE_DATE, SUPPORTS, pooled_sd
from .tables import markdown_table

RULE = f"""**The verdict rule, dated {RULE_DATE}** (`src/inception_repro/analysis/stats.py`), stated before the runs of the study-design rerun exist and applied to every claim in the claims table:

1. Only complete runs of one scale count. Variant and control are paired by seed; Δ = variant − control of test top-1 (EMA weights) in percentage points, with a 95% Student-t interval (n − 1 degrees of freedom). Fewer than 2 pairs, or pairs without any spread: *inconclusive*.
2. Where the paper finds the variant better or worse: *supports* when the interval lies wholly on the paper's side of 0, *contradicts* when wholly on the other side, else *inconclusive*.
3. Where the paper finds no difference: two one-sided tests against a margin of ±{EQUIVALENCE_MARGIN:g} point: *supports* when the interval lies inside the margin, *contradicts* only when it lies wholly outside it, else *inconclusive*. The margin is {EQUIVALENCE_MARGIN:g} point because the paper draws its own line there: Table 2 calls a 0.2-point loss "quite close" and treats 1.4 points as a loss.
4. Multiplicity: each comparison's `p_value` (2 × its smallest one-sided p, below {ALPHA:g} exactly when the raw verdict is not inconclusive) is adjusted by Holm's method across the family of distinct comparisons; `holm_verdict` stands beside `verdict`.
5. Claims that compare the same pair of configs are one comparison, computed and shown once (`same_comparison_as`); `shares_runs_with` names the comparisons that use runs of the same config and seed, whose errors move together.

**What happened before.** The first rule (commit 5849c5d, 2026-11-28 16:46 UTC) was committed before the first run records (9973bb1, 17:30 UTC); its no-difference verdict read *supports* whenever the interval held 0, else *contradicts*. The ±1-point margin was added at 20:03 (5938946), after results existed: in the reduced-budget records of 18:55 (b8bf5c8) a 2-seed interval tens of points wide had counted as support for "no difference". That version still read *contradicts* whenever the interval excluded 0, even inside the margin, and made no account of multiplicity. This rule replaces it."""


COLUMN_GUIDE = f"""Columns: `paper_delta` and `ours_delta` are top-1 changes (percentage points) of the variant over its control, `ci_low` / `ci_high` the 95% interval of ours; an empty `paper_delta` means the paper gives only a direction (or no difference). `paper_in_ci`: the paper's delta (0 for a no-difference claim) lies inside our interval. `paired_sd_pp`: the sample sd of the per-seed deltas. `mde_pp`: the smallest true Δ these seeds detect with {POWER:.0%} power at α = {ALPHA:g} (two-sided paired t, noncentral t distribution). `seeds_for_1pp`: seeds for a ±{TARGET_HALF_WIDTH:g}-point interval at the observed sd. `p_value`, `verdict`, `holm_p`, `holm_verdict`: the verdict rule. `seeds_to_resolve` / `cpu_hours_to_resolve`: what would resolve an inconclusive claim (see \"What this study can and cannot conclude\"). `commits`: the code the runs ran."""


def _direction(claim_id: str) -> int:
    return next(c.direction for c in all_claims() if c.claim == claim_id)


def _text(column: pd.Series) -> pd.Series:
    """A text column with "" for missing (read back from CSV, an all-empty column is float NaN)."""
    return column.astype("string").fillna("")


def _detectable(claims: pd.DataFrame, tested: pd.DataFrame) -> str:
    """The line on what the runs could detect (`mde_pp`, `seeds_for_1pp`), if any has an sd."""
    mde, seeds = tested["mde_pp"].dropna(), tested["seeds_for_1pp"].dropna()
    if mde.empty:
        return "- What the runs could detect: nothing yet; no comparison has two seeds whose deltas vary."
    paper = claims["paper_delta"].abs().dropna()
    noise = (f"- Seed noise: the sd of a paired delta, pooled over the {len(tested['paired_sd_pp'].dropna())} "
             f"comparisons, is {pooled_sd(tested):.2f} points.\n") if "paired_sd_pp" in tested else ""
    return (noise + f"- What the runs could detect: the smallest true Δ found with {POWER:.0%} power at "
            f"α = {ALPHA:g} (`mde_pp`) is {mde.min():.2f} to {mde.max():.2f} points, against paper deltas "
            f"of {paper.min():.2f} to {paper.max():.2f}; a ±{TARGET_HALF_WIDTH:g}-point interval would take "
            f"{int(seeds.min())} to {int(seeds.max())} seeds (`seeds_for_1pp`).")


def conclusions(claims: pd.DataFrame) -> str:
    """What the claims table can and cannot conclude at its scale and budget, as Markdown."""
    tested = claims[claims["verdict"] != NO_RUNS]
    resolved = tested["verdict"].isin([SUPPORTS, CONTRADICTS])
    after_holm = tested["holm_verdict"].isin([SUPPORTS, CONTRADICTS])
    resolvable = resolved | (tested["seeds_to_resolve"] <= tested["n_seeds"])
    merged = claims.loc[_text(claims["same_comparison_as"]) != "", ["claim", "same_comparison_as"]]
    seeds = sorted(set(tested["n_seeds"].astype(int))) or [0]
    scale = ", ".join(sorted(set(claims["scale"])))
    lines = [
        f"**What this study can and cannot conclude** (scale `{scale}`, "
        f"{' to '.join(map(str, sorted({seeds[0], seeds[-1]})))} seed{'s' * (seeds[-1] != 1)} per comparison):",
        "",
        f"- {len(all_claims())} paper claims make {len(claims)} distinct comparisons"
        + "".join(f"; `{r.claim}` and `{r.same_comparison_as}` compare the same pair of configs"
                  for r in merged.itertuples(index=False))
        + f". {len(tested)} have runs.",
        f"- Resolved by the rule: {int(resolved.sum())} of {len(tested)}; after Holm's adjustment: "
        f"{int(after_holm.sum())}. The other {len(tested) - int(resolved.sum())} are *inconclusive*: "
        "the runs neither support nor contradict the paper there.",
        _detectable(claims, tested),
    ]
    in_ci = tested["paper_in_ci"].astype(str).str.lower()  # read back from CSV: True / False / nan
    outside, with_value = tested[in_ci == "false"], tested[in_ci.isin(["true", "false"])]
    lines.append(f"- The paper's value lies inside our 95% interval for {len(with_value) - len(outside)} of "
                 f"{len(with_value)} comparisons that have one"
                 + (": outside for " + ", ".join(f"`{c}`" for c in outside["claim"]) if len(outside) else "")
                 + ".")
    shared = tested[_text(tested["shares_runs_with"]) != ""]
    lines.append(f"- {len(shared)} of {len(tested)} comparisons share runs (same config and seed) with "
                 "another, so one unlucky seed moves them together; they are not independent evidence.")
    lines.append(f"- Resolvable at this scale and budget (resolved, or already {POWER:.0%} power for the "
                 f"paper's effect): {int(resolvable.sum())} of {len(tested)}.")
    rest = tested[~resolvable].copy()
    if not rest.empty:
        rest["claim_kind"] = ["no difference (±1 pt)" if _direction(c) == 0 else
                              ("paper's Δ" if pd.notna(p) else "direction only (1 pt)")
                              for c, p in zip(rest["claim"], rest["paper_delta"])]
        rest["seeds_to_resolve"] = rest["seeds_to_resolve"].astype("Int64")
        rest["extra_seeds"] = rest["seeds_to_resolve"] - rest["n_seeds"]
        shown = rest[["claim", "claim_kind", "n_seeds", "seeds_to_resolve", "extra_seeds",
                      "cpu_hours_to_resolve"]]
        lines += [
            "",
            f"For the other {len(rest)}, the seeds that would give {POWER:.0%} power at the observed "
            "seed-to-seed sd, to detect the paper's Δ (one margin where the paper gives only a direction), "
            "or for a no-difference claim to put the interval inside the margin if the true Δ is 0; "
            "`cpu_hours_to_resolve` is the extra seeds × the mean recorded `wall_time_s` of both arms, "
            "in wall-clock hours of the machine that ran them "
            f"(together {rest['cpu_hours_to_resolve'].sum():.0f} hours if no run were shared):",
            "",
            markdown_table(shown.reset_index(drop=True)).rstrip(),
        ]
    return "\n".join(lines)
