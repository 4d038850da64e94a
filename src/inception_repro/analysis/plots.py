"""Figures for the notebooks, each saved as PNG + SVG + provenance; every figure names its scale.

Our numbers come from the scale named in every title; the paper's are ImageNet, so they appear
only as deltas (percentage points) beside ours, never on our absolute-accuracy axis. Figures use
`matplotlib.figure.Figure` directly (no pyplot state, any backend).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..metrics import STUDY_METRIC, VAL_TOP1, metric_label
from ..provenance import project_root, relative_to_root, write_with_provenance
from .collect import complete_runs
from ..ablations import all_claims
from .stats import EQUIVALENCE_MARGIN, paired_delta, summarize, variant_order, variant_summary

_DIRECTION = {1: "Δ > 0", -1: "Δ < 0", 0: "Δ ≈ 0"}


@dataclass
class Plot:
    """A figure with the scale and run folders it shows; displays inline in notebooks."""

    figure: Figure
    scale: str
    run_dirs: list[str]

    def save(self, name: str, out_dir: str | Path | None = None,
             command: str | None = None) -> dict[str, Path]:
        """`save_figure` with this plot's scale and run folders."""
        return save_figure(self.figure, name, scale=self.scale, run_dirs=self.run_dirs,
                           out_dir=out_dir, command=command)

    def __repr__(self) -> str:
        return f"Figure of {len(self.run_dirs)} runs at scale {self.scale}"

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        return buf.getvalue()


def save_figure(fig: Figure, name: str, *, scale: str, run_dirs: list[str],
                out_dir: str | Path | None = None, command: str | None = None) -> dict[str, Path]:
    """Write `<name>.png`, `<name>.svg` and `<name>.meta.json` to `out_dir` (default
    results/figures/). Returns the written paths keyed by suffix."""
    out = Path(out_dir) if out_dir is not None else project_root() / "results" / "figures"
    writers = {
        ".png": lambda p: fig.savefig(p, format="png", dpi=150, bbox_inches="tight"),
        ".svg": lambda p: fig.savefig(p, format="svg", bbox_inches="tight",
                                      metadata={"Date": None}),
    }
    return write_with_provenance(out, name, writers, command=command, scale=scale,
                                 run_dirs=relative_to_root(run_dirs))


def _legend_once(ax: Axes) -> None:
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    if unique:
        ax.legend(unique.values(), unique.keys(), fontsize=8)


def _legend_outside(fig: Figure, ax: Axes) -> None:
    """One legend entry per label, below the axes, where it cannot cover a point."""
    unique = dict(zip(*reversed(ax.get_legend_handles_labels())))
    if unique:
        fig.legend(unique.values(), unique.keys(), loc="outside lower center", ncols=2, fontsize=8)


def _yerr(mean: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return np.nan_to_num(np.vstack([mean - low, high - mean]))


def plot_variants(runs_df: pd.DataFrame, ablation: str, scale: str,
                  metric: str = STUDY_METRIC) -> Plot:
    """Left: `metric` per variant (seeds as dots, mean with 95% CI). Right: each paper claim of
    this ablation as our paired delta with 95% CI next to the paper's delta (or its direction)."""
    table = variant_summary(runs_df, ablation, scale, metric)
    rows = complete_runs(runs_df, scale)
    rows = rows[rows["ablation"] == ablation]
    claims = [c for c in all_claims() if c.ablation == ablation]
    fig = Figure(figsize=(4 + 1.1 * (len(table) + len(claims)), 4.5), layout="constrained")
    ax_abs, ax_delta = fig.subplots(1, 2, width_ratios=[max(len(table), 1), max(len(claims), 1)])

    x = np.arange(len(table))
    for i, v in enumerate(table["variant"]):
        seeds = 100.0 * rows.loc[rows["variant"] == v, metric].to_numpy()
        ax_abs.scatter(i + np.linspace(0.12, 0.28, len(seeds)), seeds, s=14, color="0.6",
                       label="one seed")
    mean = table["mean"].to_numpy()
    ax_abs.errorbar(x, mean, _yerr(mean, table["ci_low"].to_numpy(), table["ci_high"].to_numpy()),
                    fmt="o", capsize=4, color="C0", label="mean ± 95% CI (n≥2)")
    ax_abs.set_xticks(x, [f"{v}\n(n={n})" for v, n in zip(table["variant"], table["n"])])
    ax_abs.set(xlabel="variant", ylabel=metric_label(metric),
               title=f"{ablation}: ours, scale={scale}")
    _legend_once(ax_abs)

    ticks = []
    for j, c in enumerate(claims):
        d = paired_delta(rows, c.control, c.variant, metric, ablation=ablation)
        ticks.append(f"{c.variant} − {c.control}\n(n={d.n})")
        ax_delta.errorbar(j - 0.1, d.mean, _yerr(np.array([d.mean]), np.array([d.ci_low]),
                                                 np.array([d.ci_high])),
                          fmt="o", capsize=4, color="C0", label=f"ours (scale={scale}) ± 95% CI")
        if c.paper_delta is not None:
            ax_delta.scatter(j + 0.1, c.paper_delta, marker="D", color="C3",
                             label="paper (ImageNet)")
        else:
            ax_delta.text(j + 0.05, 0, f"paper:\n{_DIRECTION[c.direction]}", color="C3",
                          fontsize=8, ha="left", va="bottom")
    ax_delta.axhline(0, color="0.5", lw=0.8)
    ax_delta.set_xticks(range(len(claims)), ticks, rotation=20, ha="right")
    ax_delta.set(ylabel="Δ top-1 vs control (percentage points)",
                 title="paired Δ per seed vs paper", xlim=(-0.6, max(len(claims), 1) - 0.4))
    _legend_once(ax_delta)
    return Plot(fig, scale, sorted(rows["run_dir"]))


def plot_learning_curves(history: pd.DataFrame, ablation: str, scale: str,
                         metric: str = VAL_TOP1, x: str = "epoch") -> Plot:
    """`metric` (a fraction, shown in %) against `x` per variant of complete runs: mean over
    seeds with a 95% t-interval band where at least two seeds logged that point."""
    h = history[(history["status"] == "complete") & (history["ablation"] == ablation)
                & (history["scale"] == scale)].dropna(subset=[metric, x])
    per_run = h.groupby(["variant", "seed", x])[metric].last().reset_index()
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    for i, v in enumerate(variant_order(ablation, per_run["variant"])):
        g = per_run[per_run["variant"] == v]
        s = pd.DataFrame([summarize(100.0 * col)._asdict() for _, col in g.groupby(x)[metric]],
                         index=sorted(g[x].unique()))
        ax.plot(s.index, s["mean"], "o-", ms=3, color=f"C{i}",
                label=f"{v} (n={g['seed'].nunique()})")
        ax.fill_between(s.index, s["ci_low"], s["ci_high"], color=f"C{i}", alpha=0.2, lw=0)
    ax.set(xlabel={"step": "training step (optimizer updates)"}.get(x, x),
           ylabel=metric_label(metric),
           title=f"{ablation}: {metric}, mean over seeds ± 95% CI (scale={scale})")
    _legend_once(ax)
    return Plot(fig, scale, sorted(h["run_dir"].unique()))


def plot_accuracy_vs_cost(runs_df: pd.DataFrame, scale: str, metric: str = STUDY_METRIC,
                          cost: str = "macs", ablations: list[str] | None = None) -> Plot:
    """Small multiples, one row per ablation variant (sorted by cost): left its multiply-adds per
    image as the runs counted them (summary `macs`, millions), right its mean `metric` with the
    95% interval and every seed. Labels are the rows' names, so they never collide. Runs without
    a cost are warned about and left out."""
    rows = complete_runs(runs_df, scale)
    if ablations is not None:
        rows = rows[rows["ablation"].isin(ablations)]
    if rows[cost].isna().any():
        missing = sorted(rows.loc[rows[cost].isna(), "run_dir"])
        warnings.warn(f"left out runs without {cost}: {missing}", stacklevel=2)
        rows = rows.dropna(subset=[cost])
    points = []
    for ablation in sorted(rows["ablation"].unique()):
        group = rows[rows["ablation"] == ablation]
        for variant in variant_order(ablation, group["variant"]):
            g = group[group["variant"] == variant]
            points.append((g[cost].mean() / 1e6, ablation, variant, summarize(100.0 * g[metric]),
                           100.0 * g[metric].to_numpy()))
    points.sort(key=lambda p: p[0])
    fig = Figure(figsize=(8, 1.2 + 0.42 * max(len(points), 1)), layout="constrained")
    ax_cost, ax_acc = fig.subplots(1, 2, sharey=True, width_ratios=[1, 2])
    y = np.arange(len(points))[::-1]
    labels = [f"{v} (n={s.n})" if ablations and len(ablations) == 1 else f"{a}/{v} (n={s.n})"
              for _, a, v, s, _ in points]
    ax_cost.barh(y, [p[0] for p in points], color="0.7")
    for yi, (c, *_rest) in zip(y, points):
        ax_cost.annotate(f"{c:.2f}", (c, yi), xytext=(-3, 0), textcoords="offset points",
                         ha="right", va="center", fontsize=7)
    ax_cost.set(xlabel=f"{cost}: multiply-adds per image (millions)", title="cost")
    ax_cost.set_yticks(y, labels, fontsize=8)
    for yi, (_, _, _, s, seeds) in zip(y, points):
        ax_acc.scatter(seeds, np.full(len(seeds), yi - 0.18), s=12, color="0.6", label="one seed")
        ax_acc.errorbar(s.mean, yi, xerr=_yerr(np.array([s.mean]), np.array([s.ci_low]),
                                                np.array([s.ci_high])),
                        fmt="o", capsize=3, color="C0", label="mean ± 95% CI (n≥2)")
    ax_acc.set(xlabel=metric_label(metric), title="accuracy", ylim=(-0.7, len(points) - 0.3))
    _legend_outside(fig, ax_acc)
    fig.suptitle(f"{', '.join(ablations) if ablations else 'all ablations'}: accuracy and cost "
                 f"per variant (scale={scale})", fontsize=10)
    return Plot(fig, scale, sorted(rows["run_dir"]))


def plot_claims(claims: pd.DataFrame) -> Plot:
    """Every claim of a `comparisons.claims_table` as one row: our paired Δ top-1 with its 95% CI beside
    the paper's Δ (ImageNet; its direction where it gives no number) and our verdict."""
    scale = claims.attrs["scale"]
    by_id = {c.claim: c for c in all_claims()}
    fig = Figure(figsize=(8, 0.45 * len(claims) + 1.6), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(claims))[::-1]
    ours = claims["ours_delta"].to_numpy(dtype=float)
    ax.errorbar(ours, y, xerr=_yerr(ours, claims["ci_low"].to_numpy(dtype=float),
                                    claims["ci_high"].to_numpy(dtype=float)),
                fmt="o", capsize=3, color="C0", label=f"ours (scale={scale}) ± 95% CI")
    ax.scatter(claims["paper_delta"], y, marker="D", color="C3", label="paper (ImageNet)")
    for yi, row in zip(y, claims.itertuples(index=False)):
        if by_id[row.claim].direction == 0:
            ax.plot([-EQUIVALENCE_MARGIN, EQUIVALENCE_MARGIN], [yi, yi], color="C2", alpha=0.3, lw=7,
                    solid_capstyle="butt", label=f"'no difference' margin ±{EQUIVALENCE_MARGIN:g} pt")
        if np.isnan(row.paper_delta):
            ax.annotate(f"paper: {_DIRECTION[by_id[row.claim].direction]}", (0, yi), fontsize=7,
                        color="C3", xytext=(0, 5), textcoords="offset points", ha="center")
        ax.annotate(f"{row.verdict}; Holm: {row.holm_verdict} (n={row.n_seeds})", (1.01, yi),
                    xycoords=("axes fraction", "data"), fontsize=8, va="center")
    ax.axvline(0, color="0.5", lw=0.8)
    names = [c if not same else f"{c} = {same}" for c, same in
             zip(claims["claim"], claims["same_comparison_as"].fillna(""))]
    ax.set_yticks(y, [f"{c} ({s})" for c, s in zip(names, claims["paper_section"])], fontsize=8)
    ax.set(xlabel="Δ top-1 accuracy, variant − control (percentage points)",
           title=f"Paper claims: paired Δ over seeds (ours, scale={scale}) vs paper; "
                 "verdict raw and after Holm",
           ylim=(-0.7, len(claims) - 0.3))
    _legend_outside(fig, ax)
    return Plot(fig, scale, list(claims.attrs["run_dirs"]))
