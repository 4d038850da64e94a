"""What the notebooks show (notebooks/*.ipynb): one function per table or figure.

`load()` (re-exported from `analysis.load`) gathers the runs of ONE scale into a `Study`; every
function here takes the study and returns a DataFrame or a `Plot`, written with provenance under
`<output_dir>/tables` or `<output_dir>/figures`, or a one-line `Note` when there is nothing to show
yet, so a notebook pointed at missing runs says so instead of failing. Accuracies are top-1 in %,
deltas in percentage points; the paper's numbers are ImageNet (analysis/paper.py), ours are the scale named
in every table's `scale` column.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..ablations import Claim, ablation_names, load_ablation
from ..provenance import relative_to_root
from .collect import complete_runs, run_status_counts
from .paper import TABLE2_TOP1_ACC, TABLE3
from .plots import (
    Plot,
    metric_label,
    plot_accuracy_vs_cost,
    plot_claims,
    plot_learning_curves,
    plot_variants,
)
from .conclusions import COLUMN_GUIDE, RULE, conclusions
from .load import Study, load
from .comparisons import claims_table
from .stats import NO_RUNS, paired_delta, summarize, variant_order, variant_summary, verdict
from .tables import ShownTable, write_table


@dataclass(frozen=True)
class Text:
    """Markdown a notebook shows as prose (its numbers computed, never typed)."""

    text: str

    def __repr__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return self.text


class Note(Text):
    """A one-line message a notebook shows, in bold, in place of a table or figure."""

    def _repr_markdown_(self) -> str:
        return f"**{self.text}**"


def _make_target(ablation: str) -> str:
    return f"make ablation-{ablation.replace('_', '-')}"


def _missing(study: Study, ablation: str | None = None) -> Note | None:
    """A Note when the study has no complete run (of `ablation`) at its scale, else None."""
    if study.problem or study.runs.empty:
        return Note(study.status_line())
    done = complete_runs(study.runs, study.scale)
    if ablation is None or (done["ablation"] == ablation).any():
        return None
    others = study.runs.loc[study.runs["ablation"] == ablation, "status"].value_counts()
    listed = "".join(f", {n} {s}" for s, n in others.items())
    return Note(f"No complete runs for ablation '{ablation}' at scale {study.scale} yet{listed}: "
                f"`{_make_target(ablation)} SCALE={study.scale}`.")


def _write(study: Study, table: pd.DataFrame, name: str) -> ShownTable:
    """Write `table` with provenance; return it for display (fixed decimals, no index, no NaN)."""
    write_table(table, name, out_dir=study.out_dir / "tables", command=study.command)
    shown = ShownTable(table)
    shown.attrs.update(table.attrs)
    return shown


def _save(study: Study, plot: Plot, name: str) -> Plot:
    plot.save(name, out_dir=study.out_dir / "figures", command=study.command)
    return plot


def _with_provenance(table: pd.DataFrame, study: Study, run_dirs) -> pd.DataFrame:
    table.attrs.update(scale=study.scale, run_dirs=sorted(set(run_dirs)))
    return table


def _claim(ablation: str, control: str, variant: str) -> Claim | None:
    return next((c for c in load_ablation(ablation).claims if (c.control, c.variant) == (control, variant)),
                None)


def run_overview(study: Study) -> pd.DataFrame | Note:
    """Runs per ablation and variant by status (yaml order), each run that is not complete named
    with why. Written as `run_status`."""
    if (note := _missing(study)) is not None:
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
    return _write(study, _with_provenance(counts.reset_index(drop=True), study, study.runs["run_dir"]),
                  "run_status")


def claims(study: Study, ablation: str | None = None) -> pd.DataFrame | Note:
    """Every paper claim (or those of `ablation`): paper Δ, our paired Δ with its 95% CI, seeds,
    scale, verdict. Written as `claims` (all) or `<ablation>_claims`."""
    if (note := _missing(study, ablation)) is not None:
        return note
    table = claims_table(study.runs, study.scale)
    name = "claims"
    if ablation is not None:
        ids = {c.claim for c in load_ablation(ablation).claims}
        tests = [bool(ids & {claim, *filter(None, same.split(", "))})
                 for claim, same in zip(table["claim"], table["same_comparison_as"])]
        table = _with_provenance(table[tests].reset_index(drop=True), study, table.attrs["run_dirs"])
        name = f"{ablation}_claims"
    return _write(study, table, name)


def verdict_rule() -> Text:
    """The dated verdict rule, what happened before it, and what the claims table's columns mean."""
    return Text(f"{RULE}\n\n{COLUMN_GUIDE}")


def what_it_can_conclude(study: Study) -> Text | Note:
    """`conclusions.conclusions` of the study's claims table: what is resolved, what the runs could
    detect, and the seeds and hours the rest would take."""
    if (note := _missing(study)) is not None:
        return note
    return Text(conclusions(claims_table(study.runs, study.scale)))


def claims_figure(study: Study) -> Plot | Note:
    """`plot_claims` of all claims that have runs, saved as `claims`."""
    if (note := _missing(study)) is not None:
        return note
    table = claims_table(study.runs, study.scale)
    shown = _with_provenance(table[table["verdict"] != NO_RUNS].reset_index(drop=True), study,
                             table.attrs["run_dirs"])
    if shown.empty:
        return Note(f"No claim has complete runs of both its variants at scale {study.scale} yet.")
    return _save(study, plot_claims(shown), "claims")


def variant_table(study: Study, ablation: str, metric: str = "test_top1") -> pd.DataFrame | Note:
    """Per variant: `metric` mean, sd, n, 95% CI, and the paired Δ vs the ablation's control
    (configs/ablations/<ablation>.yaml) with its CI. Written as `<ablation>_<metric>`."""
    if (note := _missing(study, ablation)) is not None:
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
    return _write(study, _with_provenance(table, study, run_dirs), f"{ablation}_{metric}")


def variant_figure(study: Study, ablation: str, metric: str = "test_top1") -> Plot | Note:
    """`plot_variants` (ours per variant; paired Δ beside the paper's), saved as `<ablation>_variants`."""
    if (note := _missing(study, ablation)) is not None:
        return note
    return _save(study, plot_variants(study.runs, ablation, study.scale, metric), f"{ablation}_variants")


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
                    metric: str = "val/top1", x: str = "step", name: str | None = None) -> Plot | Note:
    """`metric` against training `x` per variant (mean over seeds, 95% CI band), saved as
    `name` (default `<ablation>_curves`)."""
    if (note := _missing(study, ablation)) is not None:
        return note
    h = _history(study, ablation, metric)
    if isinstance(h, Note):
        return h
    if variants is not None:
        h = h[h["variant"].isin(variants)]
    plot = plot_learning_curves(h, ablation, study.scale, metric, x)
    return _save(study, plot, name or f"{ablation}_curves")


def overtake(study: Study, ablation: str, claim: str, metric: str = "val/top1") -> pd.DataFrame | Note:
    """§4's reading of the aux head, for `claim` of `ablation` (its control: the net without the
    change): at the FIRST evaluation every other variant is no better than the control (Δ ≈ 0:
    direction 0), at the LAST it is better (Δ > 0: direction +1). Paired Δ of `metric` per seed,
    95% CI, verdict by stats' rule. Written as `<ablation>_overtake`."""
    if (note := _missing(study, ablation)) is not None:
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
    return _write(study, _with_provenance(pd.DataFrame(rows), study, h["run_dir"]), f"{ablation}_overtake")


def _ladder_rows(study: Study, ablation: str, rungs: list[tuple[str, str | None]],
                 metric: str = "test_top1") -> list[dict]:
    """Ours per `(variant, control)` rung: mean, CI, n, mean MACs, paired Δ vs control, verdict."""
    rows = complete_runs(study.runs, study.scale)
    rows = rows[rows["ablation"] == ablation]
    out = []
    for variant, control in rungs:
        own = rows[rows["variant"] == variant]
        s = summarize(100.0 * own[metric])
        d = paired_delta(rows, control, variant, metric, ablation=ablation) if control else None
        c = _claim(ablation, control, variant) if control else None
        out.append({"ours_top1": s.mean, "ours_ci_low": s.ci_low, "ours_ci_high": s.ci_high, "n": s.n,
                    "ours_macs_M": own["macs"].mean() / 1e6,
                    "ours_delta": d.mean if d else float("nan"),
                    "delta_ci_low": d.ci_low if d else float("nan"),
                    "delta_ci_high": d.ci_high if d else float("nan"),
                    "verdict": (NO_RUNS if d.n == 0 else verdict(d.ci_low, d.ci_high, c.direction))
                    if d and c else "", "scale": study.scale})
    return out


def table2(study: Study, ablation: str) -> pd.DataFrame | Note:
    """§9 Table 2 beside ours (`ablation`: the one whose variants are Table 2's receptive fields):
    per receptive field, the paper's top-1 (ImageNet) and Δ vs 299, the pixels our stem saw at
    this scale, our top-1 with CI, paired Δ vs 299, MACs, verdict."""
    if (note := _missing(study, ablation)) is not None:
        return note
    rows = complete_runs(study.runs, study.scale)
    rows = rows[rows["ablation"] == ablation]
    sizes = rows.groupby("variant")["input_size"].first()  # the pixels each stem saw, from its runs' configs
    variants = list(load_ablation(ablation).variants)
    ours = _ladder_rows(study, ablation, [(v, None if v == "299" else "299") for v in variants])
    table = pd.DataFrame([
        {"resolution": int(v), "input_px": sizes.get(v), "paper_top1": TABLE2_TOP1_ACC[v],
         "paper_delta": round(TABLE2_TOP1_ACC[v] - TABLE2_TOP1_ACC["299"], 2), **o}
        for v, o in zip(variants, ours)])
    return _write(study, _with_provenance(table, study, rows["run_dir"]), "table2")


def table3_ladder(study: Study, ablation: str) -> pd.DataFrame | Note:
    """Table 3's cumulative ladder beside ours (`ablation`: the one whose variants are its rungs):
    per rung the paper's top-1 error and cost, its Δ top-1 accuracy vs the rung before, our top-1
    with CI, paired Δ vs the rung before, verdict."""
    if (note := _missing(study, ablation)) is not None:
        return note
    variants = list(load_ablation(ablation).variants)
    paper = {r.variant: r for r in TABLE3 if r.variant}
    rungs = [(v, variants[i - 1] if i else None) for i, v in enumerate(variants)]
    ours = _ladder_rows(study, ablation, rungs)
    table = pd.DataFrame([
        {"row": paper[v].name, "variant": v, "paper_top1_err": paper[v].top1_err,
         "paper_cost_bn_ops": paper[v].cost_bn_ops,
         "paper_delta": round(paper[c].top1_err - paper[v].top1_err, 2) if c else float("nan"), **o}
        for (v, c), o in zip(rungs, ours)])
    paper_scale = _paper_scale_macs(study, ablation)
    if paper_scale is not None:
        table.insert(table.columns.get_loc("paper_cost_bn_ops") + 1, "paper_scale_macs_G",
                     table["variant"].map(paper_scale))
    rows = complete_runs(study.runs, study.scale)
    return _write(study, _with_provenance(table, study, rows.loc[rows["ablation"] == ablation, "run_dir"]),
                  "table3")


def _paper_scale_macs(study: Study, ablation: str) -> dict[str, float] | None:
    """Variant -> multiply-adds at the paper's size in billions (`make costs`), or None."""
    paper = paper_costs(study)
    if not isinstance(paper, pd.DataFrame):
        return None
    rows = paper[paper["ablation"] == ablation]
    return dict(zip(rows["variant"], rows["macs"] / 1e9))


def table3_cost_note(study: Study, ablation: str) -> Text | Note:
    """Table 3's cost column (the paper's "billions of ops") beside our multiply-adds of the same
    rungs (`ablation`'s variants) at the paper's size: how far they disagree, and why they cannot
    be compared."""
    macs = _paper_scale_macs(study, ablation)
    if macs is None:
        return paper_costs(study)
    first, last = TABLE3[3], TABLE3[-1]  # Inception-v2, and v2 + everything (= v3)
    ours_first, ours_last = macs[first.variant], macs[last.variant]
    return Text(
        f"**Table 3's cost column and our count disagree.** The paper prints {first.cost_bn_ops:g} → "
        f"{last.cost_bn_ops:g} billion \"ops\" from `{first.variant}` to `{last.variant}` "
        f"(+{last.cost_bn_ops / first.cost_bn_ops - 1:.0%}, all of it at the factorized-7x7 rung); "
        f"`make costs` counts {ours_first:.2f} → {ours_last:.2f} billion multiply-adds for the same "
        f"rungs of our network at 299 px (+{ours_last / ours_first - 1:.0%}). Ours are the multiply-adds "
        "of one eval-mode forward (every convolution and linear layer; the auxiliary head does not run), "
        "counted by PyTorch's FlopCounterMode. The paper does not say what it counts as an operation, "
        "and its Inception-v2 is its own network: our `v2_sgd` rung is Inception-v3's layout with a "
        "7x7 stem, SGD, no label smoothing and a plain auxiliary head, our reading of it. Neither the "
        "levels nor the step agree, so the paper's column is shown as printed and the rungs' costs are "
        "compared only within our own count.")


def factorization_cost_note(study: Study, ablation: str) -> Text | Note:
    """§3 and §5's savings as the paper states them (per convolution) beside what our counts of the
    whole network (`ablation`'s variants) at the paper's size show."""
    macs = _paper_scale_macs(study, ablation)
    if macs is None:
        return paper_costs(study)
    base = macs["baseline"]

    def saving(other: str) -> str:
        return f"{1 - base / macs[other]:.1%}"

    return Text(
        "**The paper's savings are per convolution; ours are the whole network's.** §3.1's 28% is "
        "two 3x3 against one 5x5 of equal width (2 x 9 = 18 against 25 weights per channel pair) and "
        "§3.2's 33% is 1x3 + 3x1 against 3x3 (6 against 9). Counted over the whole Inception-v3 at "
        f"299 px (`make costs`), two 3x3 in place of each 5x5 save {saving('conv5x5')} of the "
        f"multiply-adds, 1x7 + 7x1 in place of each 7x7 save {saving('full7x7')}, and the efficient "
        f"grid reduction saves {saving('conv_first')} against convolving first while costing "
        f"{base / macs['pool_first'] - 1:.1%} more than pooling first. How large a share a factorized "
        "convolution is of its branch, and its branch of the network, decides the difference.")


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
    if (note := _missing(study, ablation)) is not None:
        return note
    rows = complete_runs(study.runs, study.scale)
    names = [a for a in ablation_names() if ablation in (None, a) and (rows["ablation"] == a).any()]
    records = []
    for a in names:
        variants = variant_order(a, rows.loc[rows["ablation"] == a, "variant"])
        ours = _ladder_rows(study, a, [(v, None) for v in variants])
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
    return _write(study, _with_provenance(table, study, used), f"{ablation}_costs" if ablation else "costs")


def costs_figure(study: Study, ablation: str) -> Plot | Note:
    """`plot_accuracy_vs_cost` of one ablation at the study's scale (the runs' own MACs), saved
    as `<ablation>_accuracy_vs_cost`."""
    if (note := _missing(study, ablation)) is not None:
        return note
    plot = plot_accuracy_vs_cost(study.runs, study.scale, ablations=[ablation])
    return _save(study, plot, f"{ablation}_accuracy_vs_cost")


def notebook_index() -> Text:
    """Links to every ablation's notebook (configs/ablations/*.yaml) and the costs notebook."""
    lines = []
    for name in ablation_names():
        ablation = load_ablation(name)
        title = (ablation.notebook or {}).get("title") or ablation.paper_section
        lines.append(f"- [{name}]({name}.ipynb): {title}.")
    lines.append("- [costs](costs.ipynb): accuracy against multiply-adds per variant.")
    return Text("\n".join(lines))


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
