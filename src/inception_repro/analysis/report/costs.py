"""What the variants cost: the paper-scale parameters and multiply-adds `make costs` counted, our
top-1 against the multiply-adds of our runs (table and figures, notebooks/costs.ipynb).
"""

from __future__ import annotations

import pandas as pd

from ...ablations import ablation_names, load_ablation
from ...provenance import relative_to_root
from ..collect import complete_runs
from ..load import Study
from ..plots import Plot, plot_accuracy_vs_cost
from ..stats import variant_order
from ..tables import ShownTable
from .rungs import ladder_rows
from .shown import Note, Text, missing, save, with_provenance, write


def paper_costs(study: Study) -> pd.DataFrame | Note:
    """`model_costs.csv` (`make costs`: every variant's parameters and MACs at the paper's size)
    from the study's tables folder."""
    path = study.out_dir / "tables" / "model_costs.csv"
    if not path.is_file():
        return Note(f"No {relative_to_root([path])[0]}: run `make costs` for the paper-scale parameters "
                    "and multiply-adds.")
    return ShownTable(pd.read_csv(path, dtype={"variant": str}))


def costs_table(study: Study, ablation: str | None = None) -> pd.DataFrame | Note:
    """Per variant (of `ablation`, or all): our top-1 with CI and MACs at this scale beside the
    paper-scale MACs and parameters from `paper_costs`. Written as `costs` or `<ablation>_costs`."""
    if (note := missing(study, ablation)) is not None:
        return note
    rows = complete_runs(study.runs, study.scale)
    names = [a for a in ablation_names() if ablation in (None, a) and (rows["ablation"] == a).any()]
    records = []
    for a in names:
        variants = variant_order(a, rows.loc[rows["ablation"] == a, "variant"])
        ours = ladder_rows(study, a, [(v, None) for v in variants])
        records += [{"ablation": a, "variant": v, **o} for v, o in zip(variants, ours)]
    table = pd.DataFrame(records).drop(columns=["ours_delta", "delta_ci_low", "delta_ci_high", "verdict"])
    paper = paper_costs(study)
    if isinstance(paper, pd.DataFrame):
        paper = paper.rename(columns={"macs": "paper_scale_macs_G", "params": "paper_scale_params_M"})
        paper["paper_scale_macs_G"] /= 1e9
        paper["paper_scale_params_M"] /= 1e6
        table = table.merge(paper[["ablation", "variant", "paper_scale_macs_G", "paper_scale_params_M"]],
                            on=["ablation", "variant"], how="left")
    table = table[[c for c in table.columns if c != "scale"] + ["scale"]]
    used = rows.loc[rows["ablation"].isin(names), "run_dir"]
    return write(study, with_provenance(table, study, used), f"{ablation}_costs" if ablation else "costs")


def costs_figure(study: Study, ablation: str) -> Plot | Note:
    """`plot_accuracy_vs_cost` of one ablation at the study's scale (the runs' own MACs), saved
    as `<ablation>_accuracy_vs_cost`."""
    if (note := missing(study, ablation)) is not None:
        return note
    plot = plot_accuracy_vs_cost(study.runs, study.scale, ablations=[ablation])
    return save(study, plot, f"{ablation}_accuracy_vs_cost")


def paper_scale_macs(study: Study, ablation: str) -> dict[str, float] | None:
    """Variant -> multiply-adds at the paper's size in billions (`make costs`), or None."""
    paper = paper_costs(study)
    if not isinstance(paper, pd.DataFrame):
        return None
    rows = paper[paper["ablation"] == ablation]
    return dict(zip(rows["variant"], rows["macs"] / 1e9))


def costed_ablations(study: Study) -> list[str]:
    """The ablations whose complete runs at the study's scale differ in multiply-adds per image."""
    rows = complete_runs(study.runs, study.scale) if not study.runs.empty else study.runs
    return [a for a in ablation_names() if rows.loc[rows["ablation"] == a, "macs"].nunique() > 1]


def costs_figures(study: Study) -> None:
    """`costs_figure` of every `costed_ablations` ablation under its notebook's title, displayed."""
    from IPython.display import display

    for name in costed_ablations(study):
        title = (load_ablation(name).notebook or {}).get("title") or name
        display(Text(f"### {title}"), costs_figure(study, name))
