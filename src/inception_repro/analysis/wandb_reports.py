"""``make report``: one W&B report per ablation (DESIGN.md, "W&B ... `make report`").

Each report states the claim and its paper section, then one panel grid over the ablation's runs
at one scale, grouped by variant: val top-1 against the training step, and final test top-1 bars.
Runs are found by the config the trainer logs (`config.ablation`, `config.scale.name`) in the
project of configs/logger/wandb.yaml. Without an API key or a reachable server it says so in one
line and exits non-zero before anything is built or saved.

``python -m inception_repro.analysis.wandb_reports [--scale cpu] [--entity E] [--project P] [ablation ...]``
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from urllib.parse import urlparse

import yaml
from wandb_workspaces import expr
from wandb_workspaces.reports import v2 as wr

from ..ablations import Ablation, ablation_names, load_ablation
from ..cli import run_cli
from ..paths import CONFIG_DIR
from .paper import CLAIMS

VAL_TOP1, TEST_TOP1, STEP = "val/top1", "test/top1", "trainer/global_step"


def default_project() -> str:
    """The W&B project runs are logged to (configs/logger/wandb.yaml)."""
    return yaml.safe_load((CONFIG_DIR / "logger" / "wandb.yaml").read_text())["project"]


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
    for c in CLAIMS:
        if c.ablation == ablation.name:
            delta = "direction only" if c.paper_delta is None else f"{c.paper_delta:+.1f}"
            lines.append(f"- `{c.variant}` vs `{c.control}` ({c.paper_section}): {delta}. {c.statement}")
    return "\n".join(lines)


def build_report(name: str, scale: str, entity: str, project: str) -> wr.Report:
    """The report of ablation `name` at `scale`; built offline, saved only by `main`."""
    ablation = load_ablation(name)
    return wr.Report(
        entity=entity, project=project,
        title=f"Inception-v3 ablation: {name} (scale={scale})",
        description=f"{ablation.paper_section}: runs grouped by variant; control = {ablation.control}.",
        blocks=[
            wr.H1(f"{name}: {ablation.paper_section}"),
            wr.MarkdownBlock(_claims_text(ablation)),
            wr.MarkdownBlock(
                f"Runs at scale **{scale}** only; scales are never mixed. Accuracies are fractions "
                "of the test or validation set, evaluated with the EMA weights; the notebooks give "
                "the paired deltas with 95% intervals and the verdict."),
            wr.PanelGrid(
                runsets=[runset(name, scale, entity, project)],
                panels=[
                    wr.LinePlot(title=f"val top-1 per variant (scale={scale})", x=STEP, y=[VAL_TOP1],
                                title_x="training step", title_y="val top-1 (EMA weights)",
                                groupby_aggfunc="mean", groupby_rangefunc="minmax"),
                    wr.BarPlot(title=f"final test top-1 per variant (scale={scale})", metrics=[TEST_TOP1],
                               orientation="v", title_x="variant", title_y="test top-1 (EMA weights)",
                               groupby_aggfunc="mean", groupby_rangefunc="minmax"),
                ],
            ),
        ],
    )


def _unavailable(base_url: str) -> str | None:
    """Why reports cannot be saved now (no API key, server unreachable), or None."""
    netrc = os.path.expanduser("~/.netrc")
    host = urlparse(base_url).hostname or base_url
    has_netrc = os.path.isfile(netrc) and host in open(netrc, encoding="utf-8", errors="replace").read()
    if not (os.environ.get("WANDB_API_KEY") or has_netrc):
        return "no W&B API key (set WANDB_API_KEY or run `.venv/bin/wandb login`)"
    try:
        socket.create_connection((host, urlparse(base_url).port or 443), timeout=10).close()
    except OSError as err:
        return f"cannot reach {host} ({type(err).__name__}: {err})"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make report", description=__doc__.splitlines()[0])
    parser.add_argument("ablations", nargs="*", help=f"default: all ({', '.join(ablation_names())})")
    parser.add_argument("--scale", default="cpu")
    parser.add_argument("--entity", default=os.environ.get("WANDB_ENTITY"),
                        help="default: $WANDB_ENTITY, else your W&B default entity")
    parser.add_argument("--project", default=default_project())
    args = parser.parse_args(argv)
    names = args.ablations or ablation_names()
    unknown = sorted(set(names) - set(ablation_names()))
    if unknown:
        print(f"error: unknown ablation {', '.join(unknown)}; valid: {', '.join(ablation_names())}", file=sys.stderr)
        return 2
    import wandb

    why = _unavailable(os.environ.get("WANDB_BASE_URL") or wandb.Settings().base_url)
    if why:
        print(f"make report: {why}; no report was built or changed.", file=sys.stderr)
        return 1
    try:
        entity = args.entity or wandb.Api().default_entity
        reports = [build_report(n, args.scale, entity, args.project) for n in names]
        for report in reports:
            report.save()
            print(f"{report.title}: {report.url}")
    except Exception as err:  # the W&B client raises many types (auth, HTTP, missing project)
        print(f"make report: W&B refused ({type(err).__name__}: {' '.join(str(err).split())})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, sys.argv[1:]))  # one line, the traceback in a crash.log
