"""One ablation's variants side by side: test top-1 per variant with the paired delta against its
control (table and figure), learning curves, and §4's reading of the auxiliary head (no faster
early, better at the end).
"""

from __future__ import annotations

import pandas as pd

from ...metrics import STUDY_METRIC, VAL_TOP1, metric_label
from ...ablations import load_ablation
from ..collect import complete_runs
from ..load import Study
from ..plots import Plot, plot_learning_curves, plot_variants
from ..stats import NO_RUNS, paired_delta, variant_order, variant_summary, verdict
from .shown import Note, missing, save, with_provenance, write


def variant_table(study: Study, ablation: str, metric: str = STUDY_METRIC) -> pd.DataFrame | Note:
    """Per variant: `metric` mean, sd, n, 95% CI, and the paired Δ vs the ablation's control
    (configs/ablations/<ablation>.yaml) with its CI. Written as `<ablation>_<metric>`."""
    if (note := missing(study, ablation)) is not None:
        return note
    table = variant_summary(study.runs, ablation, study.scale, metric)
    run_dirs = table.attrs["run_dirs"]
    control = load_ablation(ablation).control
    rows = complete_runs(study.runs, study.scale)
    deltas = [paired_delta(rows, control, v, metric, ablation=ablation) if v != control else None
              for v in table["variant"]]
    table.insert(1, "metric", metric_label(metric))
    table.insert(len(table.columns) - 1, "control", control)
    for key in ("mean", "ci_low", "ci_high", "n"):
        table.insert(len(table.columns) - 1, f"delta_{key}",
                     pd.array([getattr(d, key) if d else None for d in deltas],
                              dtype="Int64" if key == "n" else "Float64"))
    return write(study, with_provenance(table, study, run_dirs), f"{ablation}_{metric}")


def variant_figure(study: Study, ablation: str, metric: str = STUDY_METRIC) -> Plot | Note:
    """`plot_variants` (ours per variant; paired Δ beside the paper's), saved as `<ablation>_variants`."""
    if (note := missing(study, ablation)) is not None:
        return note
    return save(study, plot_variants(study.runs, ablation, study.scale, metric), f"{ablation}_variants")


def _history(study: Study, ablation: str, metric: str) -> pd.DataFrame | Note:
    try:
        history = study.history()
    except RuntimeError as err:
        return Note(str(err))
    h = history[(history["ablation"] == ablation) & (history["status"] == "complete")]
    if metric not in h or h[metric].isna().all():
        return Note(f"No `{metric}` history logged by the complete runs of '{ablation}' at scale "
                    f"{study.scale}.")
    return h.dropna(subset=[metric])


def learning_curves(study: Study, ablation: str, variants: list[str] | None = None,
                    metric: str = VAL_TOP1, x: str = "step", name: str | None = None) -> Plot | Note:
    """`metric` against training `x` per variant (mean over seeds, 95% CI band), saved as
    `name` (default `<ablation>_curves`)."""
    if (note := missing(study, ablation)) is not None:
        return note
    h = _history(study, ablation, metric)
    if isinstance(h, Note):
        return h
    if variants is not None:
        h = h[h["variant"].isin(variants)]
    plot = plot_learning_curves(h, ablation, study.scale, metric, x)
    return save(study, plot, name or f"{ablation}_curves")


def overtake(study: Study, ablation: str, claim: str, metric: str = VAL_TOP1) -> pd.DataFrame | Note:
    """§4's reading of the aux head, for `claim` of `ablation` (its control: the net without the
    change): at the FIRST evaluation every other variant is no better than the control (Δ ≈ 0:
    direction 0), at the LAST it is better (Δ > 0: direction +1). Paired Δ of `metric` per seed,
    95% CI, verdict by stats' rule. Written as `<ablation>_overtake`."""
    if (note := missing(study, ablation)) is not None:
        return note
    control = next(c.control for c in load_ablation(ablation).claims if c.claim == claim)
    h = _history(study, ablation, metric)
    if isinstance(h, Note):
        return h
    h = h.sort_values("step")
    ends = {"first evaluation": h.groupby(["variant", "seed"]).head(1),
            "last evaluation": h.groupby(["variant", "seed"]).tail(1)}
    expect = {"first evaluation": (0, "Δ ≈ 0: no faster convergence early"),
              "last evaluation": (+1, "Δ > 0: overtakes near the end")}
    rows = []
    for variant in [v for v in variant_order(ablation, h["variant"]) if v != control]:
        for when, points in ends.items():
            s = paired_delta(points, control, variant, metric, ablation=ablation)
            direction, reading = expect[when]
            rows.append({"variant": variant, "control": control, "evaluation": when,
                         "step": int(points["step"].median()), "paper": reading,
                         "ours_delta": s.mean, "ci_low": s.ci_low, "ci_high": s.ci_high,
                         "n_seeds": s.n, "scale": study.scale,
                         "verdict": NO_RUNS if s.n == 0 else verdict(s.ci_low, s.ci_high, direction)})
    return write(study, with_provenance(pd.DataFrame(rows), study, h["run_dir"]), f"{ablation}_overtake")
