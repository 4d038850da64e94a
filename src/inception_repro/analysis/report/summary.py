"""The study at one glance (notebooks/00_summary.ipynb): which runs are there, every paper claim
with its verdict (table and figure), the verdict rule, what the study can conclude, and links to
every ablation's notebook.
"""

from __future__ import annotations

import pandas as pd

from ...ablations import ablation_names, load_ablation
from ..collect import run_status_counts
from ..comparisons import claims_table
from ..conclusions import COLUMN_GUIDE, RULE, conclusions
from ..load import Study
from ..plots import Plot, plot_claims
from ..stats import NO_RUNS
from .shown import Note, Text, missing, save, with_provenance, write


def run_overview(study: Study) -> pd.DataFrame | Note:
    """Runs per ablation and variant by status (yaml order), each run that is not complete named
    with why. Written as `run_status`."""
    if (note := missing(study)) is not None:
        return note
    why: dict[tuple[str, str], list[str]] = {}
    for r in study.runs[study.runs["status"] != "complete"].itertuples(index=False):
        reason = next((t for t in (r.problem, r.failure) if isinstance(t, str) and t), "")
        run = f"seed{r.seed}" if pd.notna(r.seed) else r.run_dir
        why.setdefault((r.ablation, r.variant), []).append(
            f"{run}: {r.status}" + (f" ({reason})" if reason else ""))
    counts = run_status_counts(study.runs)
    keys = list(zip(counts["ablation"], counts["variant"]))
    counts["not complete"] = ["; ".join(why.get(k, [])) for k in keys]
    counts["scale"] = study.scale
    rank = {k: i for i, k in enumerate((a, v) for a in ablation_names() for v in load_ablation(a).variants)}
    counts = counts.iloc[sorted(range(len(keys)), key=lambda i: (rank.get(keys[i], len(rank)), str(keys[i])))]
    return write(study, with_provenance(counts.reset_index(drop=True), study, study.runs["run_dir"]),
                  "run_status")


def claims(study: Study, ablation: str | None = None) -> pd.DataFrame | Note:
    """Every paper claim (or those of `ablation`): paper Δ, our paired Δ with its 95% CI, seeds,
    scale, verdict. Written as `claims` (all) or `<ablation>_claims`."""
    if (note := missing(study, ablation)) is not None:
        return note
    table = claims_table(study.runs, study.scale)
    name = "claims"
    if ablation is not None:
        ids = {c.claim for c in load_ablation(ablation).claims}
        tests = [bool(ids & {claim, *filter(None, same.split(", "))})
                 for claim, same in zip(table["claim"], table["same_comparison_as"])]
        table = with_provenance(table[tests].reset_index(drop=True), study, table.attrs["run_dirs"])
        name = f"{ablation}_claims"
    return write(study, table, name)


def verdict_rule() -> Text:
    """The dated verdict rule, what happened before it, and what the claims table's columns mean."""
    return Text(f"{RULE}\n\n{COLUMN_GUIDE}")


def what_it_can_conclude(study: Study) -> Text | Note:
    """`conclusions.conclusions` of the study's claims table: what is resolved, what the runs could
    detect, and the seeds and hours the rest would take."""
    if (note := missing(study)) is not None:
        return note
    return Text(conclusions(claims_table(study.runs, study.scale)))


def claims_figure(study: Study) -> Plot | Note:
    """`plot_claims` of all claims that have runs, saved as `claims`."""
    if (note := missing(study)) is not None:
        return note
    table = claims_table(study.runs, study.scale)
    shown = with_provenance(table[table["verdict"] != NO_RUNS].reset_index(drop=True), study,
                             table.attrs["run_dirs"])
    if shown.empty:
        return Note(f"No claim has complete runs of both its variants at scale {study.scale} yet.")
    return save(study, plot_claims(shown), "claims")


def notebook_index() -> Text:
    """Links to every ablation's notebook (configs/ablations/*.yaml) and the costs notebook."""
    lines = []
    for name in ablation_names():
        ablation = load_ablation(name)
        title = (ablation.notebook or {}).get("title") or ablation.paper_section
        lines.append(f"- [{name}]({name}.ipynb): {title}.")
    lines.append("- [costs](costs.ipynb): accuracy against multiply-adds per variant.")
    return Text("\n".join(lines))
