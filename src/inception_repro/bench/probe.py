"""``make probe``: seconds per run and seed noise of candidate study designs, to choose the study scale.

A design is a name and config overrides on the cpu scale (images, schedule, width...). For each
design the probe trains the configs of a few paired comparisons (default: aux none vs bn,
factorization baseline vs full7x7, optimizer rmsprop vs sgd; one config is trained once even where
two comparisons use it) at the seeds asked for (default 0..3), seed by seed across the designs, so that every design has
estimates early. After every run it rewrites results/bench/probes.json with each design's seconds
per run, each comparison's paired delta (variant - control test top-1, percentage points), their
sd pooled over the comparisons, and the smallest effect a paired t-test detects (80% power,
two-sided alpha 0.05) with the seeds probed and with the seeds the budget buys for the whole study
(its configs of one seed, each trained once, ``--workers`` runs at once, every run costing what the
probed ones did). Runs live in results/local/probes/<design>/; a complete run is read back, not
trained again, so stopping the probe and starting it again resumes it.
The runs are trained by bench/probe_runs.py, read by bench/probe_stats.py and, with ``--merge``,
joined by bench/probe_merge.py; this module is the command and its table.

    python -m inception_repro.bench.probe [--seeds 4|a,b,c] [--design NAME OVERRIDE...]...
        [--compare ABLATION CONTROL VARIANT]... [-- OVERRIDES]
"""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from inception_repro.ablate import parse_seeds
from inception_repro.ablations import load_ablation
from inception_repro.analysis.probe_section import fmt
from inception_repro.bench.probe_merge import merge
from inception_repro.bench.probe_runs import probe, write
from inception_repro.bench.probe_stats import Comparison
from inception_repro.bench.study_rate import study_runs
from inception_repro.cli import ArgumentParser, run_cli
from inception_repro.errors import ConfigError

OUT = Path("results/bench/probes.json")
RUNS = Path("results/local/probes")
# Each design sets every value the designs differ in, so that it means the same whatever the cpu
# scale is today. §8's schedule decays the LR 50 times by 0.94 over ~100 epochs; these designs do
# the same over their one epoch (epochs_per_decay 0.02).
PAPER_ANNEAL = ("optimizer.epochs_per_decay=0.02", "trainer.channels_last=true")
DESIGNS: dict[str, tuple[str, ...]] = {
    "18k_anneal": ("scale.input_sizes.light=35", "data.train_subset=17920", *PAPER_ANNEAL, "optimizer.lr=0.045"),
    "18k_anneal_lr4x": ("scale.input_sizes.light=35", "data.train_subset=17920", *PAPER_ANNEAL, "optimizer.lr=0.18"),
    # grids 25 / 12 / 5: the 17x17 modules still inside §3.2's 12-20 range, at a lower cost per image
    "25px_36k_lr4x": ("scale.input_sizes.light=25", "data.train_subset=35840", *PAPER_ANNEAL, "optimizer.lr=0.18"),
}
console = Console() if sys.stdout.isatty() else Console(width=160)  # a log file gets the whole table

COMPARISONS = (Comparison("aux", "none", "bn"), Comparison("factorization", "baseline", "full7x7"),
               Comparison("optimizer", "rmsprop", "sgd"))


def study_runs_per_seed() -> int:
    """Runs one seed of the whole study trains: its configs, each once (runs of one config are shared)."""
    return len(study_runs()[1])


def report(result: dict[str, Any]) -> None:
    table = Table(title=f"probe: paired sd of test top-1 deltas (pp) over {len(result['comparisons'])} comparisons; "
                        f"budget {result['budget_hours']} h for {result['study_runs_per_seed']} runs per seed, "
                        f"{result['workers']} at a time")
    for column in ("design", "grids", "s/run", "seeds", "sd per comparison", "pooled sd", "detectable",
                   "seeds in budget", "detectable in budget"):
        table.add_column(column)
    for d in result["designs"]:
        grids = next((r["grid_sizes"] for r in d["runs"] if r.get("grid_sizes")), None)
        table.add_row(d["name"], str(grids), fmt(d["seconds_per_run"], ".0f"), str(d["n_seeds"]),
                      " ".join(fmt(c["paired_sd_pp"]) for c in d["comparisons"]), fmt(d["pooled_sd_pp"]),
                      fmt(d["detectable_pp"]), fmt(d["seeds_in_budget"], "d"), fmt(d["detectable_in_budget_pp"]))
    console.print(table)


def parse_designs(specs: list[list[str]] | None) -> dict[str, tuple[str, ...]]:
    if not specs:
        return dict(DESIGNS)
    designs = {spec[0]: tuple(spec[1:]) for spec in specs}
    if len(designs) != len(specs):
        raise ConfigError("two --design options have the same name")
    return designs


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv

    def run(args: list[str]) -> int:
        own, overrides = (args[: args.index("--")], args[args.index("--") + 1:]) if "--" in args else (args, [])
        parser = ArgumentParser(prog="inception-probe", description=__doc__.splitlines()[0])
        parser.add_argument("--design", nargs="+", action="append", metavar=("NAME", "OVERRIDE"),
                            help=f"a candidate design (repeatable); default: {', '.join(DESIGNS)}")
        parser.add_argument("--seeds", default="4", help="N (seeds 0..N-1, default 4) or a list a,b,c")
        parser.add_argument("--compare", nargs=3, action="append", metavar=("ABLATION", "CONTROL", "VARIANT"),
                            help="a paired comparison (repeatable); default: "
                                 + ", ".join(c.label for c in COMPARISONS))
        parser.add_argument("--budget-hours", type=float, default=8.0, help="the whole study's budget (default 8)")
        parser.add_argument("--runs-per-seed", type=int, default=None,
                            help="runs per seed of the whole study (default: its configs, each trained once)")
        parser.add_argument("--workers", type=int, default=2, help="runs the study trains at once (default 2: 2 cores)")
        parser.add_argument("--runs-dir", type=Path, default=RUNS)
        parser.add_argument("--out", type=Path, default=OUT)
        parser.add_argument("--merge", nargs="+", type=Path, metavar="PROBES_JSON",
                            help="write one table from the runs of probes run apart (designs or seeds), training "
                                 "nothing; --design restates a design's overrides, checked against its runs")
        a = parser.parse_args(own)
        if a.merge:
            designs = parse_designs(a.design) if a.design else {}
            result = merge(a.merge, designs, overrides, a.budget_hours, a.runs_per_seed or study_runs_per_seed(), a.workers)
            write(result, a.out)
            report(result)
            console.print(f"wrote {a.out}")
            return 0
        seeds = parse_seeds(a.seeds)
        comparisons = [Comparison(*c) for c in a.compare] if a.compare else list(COMPARISONS)
        for c in comparisons:
            variants = load_ablation(c.ablation).variants
            for v in (c.control, c.variant):
                if v not in variants:
                    raise ConfigError(f"{c.ablation} has no variant {v!r}; valid: {', '.join(variants)}")
        warnings.filterwarnings("ignore")
        logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
        result = probe(parse_designs(a.design), comparisons, seeds, overrides,
                       a.runs_dir, a.out, a.budget_hours, a.runs_per_seed or study_runs_per_seed(), a.workers)
        report(result)
        console.print(f"wrote {a.out}")
        return 0

    return run_cli(run, argv)


if __name__ == "__main__":
    sys.exit(main())
