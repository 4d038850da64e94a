"""``make report``: one W&B report per ablation, saved over the previous one of the same title.

Each report states the claim and its paper section, then the same numbers as the notebooks, from
the run records: test top-1 per variant and each claim's paired delta, with their 95% Student-t
intervals (stats.py). W&B cannot draw a t-interval, so its panels show what they can without
inventing one: val top-1 against the training step, one thin line per seed under the variant's
mean, and the variants' mean test top-1 as bars. Runs are found by the config the trainer (or
``make wandb-push``) logs (`config.ablation`, `config.scale.name`) in the project of
configs/logger/wandb.yaml. A report whose title is already in the project is replaced in place.
Without credentials or a reachable server it says so in one line and exits non-zero before
anything is built or saved.

``python -m inception_repro.analysis.wandb_reports [--scale cpu] [--results results] [--entity E] [--project P] [ablation ...]``
"""

from __future__ import annotations

import math
import os
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd
from wandb_workspaces import expr
from wandb_workspaces.reports import v2 as wr

from ..ablations import Ablation, ablation_names, load_ablation
from ..cli import ArgumentParser, run_cli
from ..errors import ConfigError
from ..metrics import STEP, TEST_TOP1, VAL_TOP1
from ..training.tracking import credentials_found, server_url
from .collect import collect_runs
from .comparisons import claims_table
from .stats import CONFIDENCE, variant_summary
from .tables import markdown_table
from .wandb_push import default_project

LEVEL = f"{CONFIDENCE:.0%}"
_DIRECTION = {1: "Δ > 0", -1: "Δ < 0", 0: "Δ ≈ 0"}


def runset(ablation: str, scale: str, entity: str, project: str) -> wr.Runset:
    """The ablation's runs at `scale`, grouped by variant."""
    return wr.Runset(
        entity=entity, project=project, name=f"{ablation} @ scale={scale}",
        filters=expr.And(expr.Config("ablation") == ablation, expr.Config("scale.name") == scale),
        groupby=["config.variant"],
    )


def _claims_text(ablation: Ablation) -> str:
    lines = [f"**Claim ({ablation.paper_section}).** {ablation.claim}", "",
             "Paper's Δ top-1 (ImageNet, percentage points) per comparison:"]
    for c in ablation.claims:
        delta = "direction only" if c.paper_delta is None else f"{c.paper_delta:+.1f}"
        lines.append(f"- `{c.variant}` vs `{c.control}` ({c.paper_section}): {delta}. {c.statement}")
    return "\n".join(lines)


def _pp(value: float) -> str:
    return f"{round(value, 2) + 0.0:+.2f}"  # + 0.0: no "-0.00"


def _interval(low: float, high: float) -> str:
    return "n < 2" if math.isnan(low) or math.isnan(high) else f"[{_pp(low)}, {_pp(high)}]"


def intervals_text(runs: pd.DataFrame, ablation: str, scale: str) -> str:
    """Test top-1 per variant and each claim's paired Δ with their 95% intervals, as the notebooks
    compute them (stats.variant_summary, comparisons.claims_table) from the complete runs at `scale`."""
    variants = variant_summary(runs, ablation, scale)
    per_variant = pd.DataFrame({
        "variant": variants["variant"], "seeds": variants["n"], "test top-1 (%)": variants["mean"],
        f"{LEVEL} interval": [_interval(lo, hi).replace("+", "") for lo, hi in zip(variants["ci_low"], variants["ci_high"])],
    })
    ids = {c.claim: c for c in load_ablation(ablation).claims}
    table = claims_table(runs, scale)
    # An identical comparison is one row, named after its first claim: show it under this ablation's name.
    names = [[c, *filter(None, str(same).split(", "))] if isinstance(same, str) else [c]
             for c, same in zip(table["claim"], table["same_comparison_as"])]
    table = table.assign(claim=[next((n for n in ns if n in ids), None) for ns in names]).dropna(subset=["claim"])
    per_claim = pd.DataFrame({
        "comparison": [f"{ids[c].variant} vs {ids[c].control}" for c in table["claim"]],
        "paper Δ (pp)": [_pp(d) if ids[c].paper_delta is not None else _DIRECTION[ids[c].direction]
                         for c, d in zip(table["claim"], table["paper_delta"])],
        "ours Δ (pp)": ["" if math.isnan(d) else _pp(d) for d in table["ours_delta"]],
        f"{LEVEL} interval": [_interval(lo, hi) for lo, hi in zip(table["ci_low"], table["ci_high"])],
        "seeds": table["n_seeds"], "verdict": table["verdict"],
    })
    return "\n".join([
        f"**Test top-1 per variant at scale {scale}**: mean over seeds with its {LEVEL} Student-t interval "
        "(EMA weights; the notebooks' numbers).", "", markdown_table(per_variant), "",
        f"**Paired Δ per claim** (variant − control, same seed, percentage points) with its {LEVEL} interval "
        "and the verdict of stats.py:", "", markdown_table(per_claim),
    ])


def build_report(name: str, scale: str, entity: str, project: str, runs: pd.DataFrame) -> wr.Report:
    """The report of ablation `name` at `scale` with the intervals of `runs` (collect_runs);
    built offline, saved only by `main`."""
    ablation = load_ablation(name)
    return wr.Report(
        entity=entity, project=project,
        title=f"Inception-v3 ablation: {name} (scale={scale})",
        description=f"{ablation.paper_section}: runs grouped by variant; control = {ablation.control}.",
        blocks=[
            wr.H1(f"{name}: {ablation.paper_section}"),
            wr.MarkdownBlock(_claims_text(ablation)),
            wr.MarkdownBlock(intervals_text(runs, name, scale)),
            wr.MarkdownBlock(
                f"Runs at scale **{scale}** only; scales are never mixed. The panels below show each seed "
                f"(thin lines) and the mean over seeds; the {LEVEL} intervals are in the tables above, since "
                "W&B's own bands (min-max, standard error) are not intervals."),
            wr.PanelGrid(
                runsets=[runset(name, scale, entity, project)],
                panels=[
                    wr.LinePlot(title=f"val top-1 per variant: mean and each seed (scale={scale})", x=STEP,
                                y=[VAL_TOP1], title_x="training step", title_y="val top-1 (EMA weights)",
                                groupby_aggfunc="mean", groupby_rangefunc="samples"),
                    wr.BarPlot(title=f"mean test top-1 per variant (scale={scale}; {LEVEL} intervals above)",
                               metrics=[TEST_TOP1], orientation="v", title_x="variant",
                               title_y="test top-1 (EMA weights)", groupby_aggfunc="mean", groupby_rangefunc="none"),
                ],
            ),
        ],
    )


def existing_report_id(api: Any, report: wr.Report) -> str:
    """The id of the report already saved under `report`'s title in its project ("" if none); saving
    with that id replaces it instead of adding a copy. Of several, the most recently updated."""
    try:
        found = [r for r in api.reports(f"{report.entity}/{report.project}") if r.display_name == report.title]
    except ValueError:  # the project does not exist yet
        return ""
    return max(found, key=lambda r: r.updated_at or "").id if found else ""


def save_in_place(api: Any, report: wr.Report) -> wr.Report:
    """Save `report` over the one of the same title, or as a new report if there is none."""
    report.id = existing_report_id(api, report)
    return report.save()


def _unavailable() -> str | None:
    """Why reports cannot be saved now (no credentials, server unreachable), or None."""
    if not credentials_found():
        return f"no W&B API key for {server_url()} (set WANDB_API_KEY or run `.venv/bin/wandb login`)"
    url = urlparse(server_url())
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)), timeout=10).close()
    except OSError as err:
        return f"cannot reach {url.hostname} ({type(err).__name__}: {err})"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="make report", description=__doc__.splitlines()[0])
    parser.add_argument("ablations", nargs="*", help=f"default: all ({', '.join(ablation_names())})")
    parser.add_argument("--scale", default="cpu")
    parser.add_argument("--results", default="results", help="the run records the intervals come from")
    parser.add_argument("--entity", default=os.environ.get("WANDB_ENTITY"),
                        help="default: $WANDB_ENTITY, else your W&B default entity")
    parser.add_argument("--project", default=default_project(), help="default: $WANDB_PROJECT, else configs/logger/wandb.yaml")
    try:
        args = parser.parse_args(argv)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    names = args.ablations or ablation_names()
    unknown = sorted(set(names) - set(ablation_names()))
    if unknown:
        print(f"error: unknown ablation {', '.join(unknown)}; valid: {', '.join(ablation_names())}", file=sys.stderr)
        return 2
    if not Path(args.results).is_dir():
        print(f"error: --results {args.results} is not a folder of run records (the committed study is results/)",
              file=sys.stderr)
        return 2
    why = _unavailable()
    if why:
        print(f"error: make report: {why}; no report was built or changed", file=sys.stderr)
        return 1
    import wandb

    runs = collect_runs(args.results, args.scale)
    try:
        api = wandb.Api()
        entity = args.entity or api.default_entity
        for name in names:
            report = save_in_place(api, build_report(name, args.scale, entity, args.project, runs))
            print(f"{report.title}: {report.url}")
    except Exception as err:  # the W&B client raises many types (auth, HTTP, missing project)
        print(f"error: make report: W&B refused ({type(err).__name__}: {' '.join(str(err).split())})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, sys.argv[1:]))  # one line, the traceback in a crash.log
