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

    python -m inception_repro.bench.probe [--seeds 4|a,b,c] [--design NAME OVERRIDE...]...
        [--compare ABLATION CONTROL VARIANT]... [-- OVERRIDES]
"""

from __future__ import annotations

import json
import logging
import math
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from inception_repro.ablate import parse_seeds
from inception_repro.ablations import load_ablation
from inception_repro.analysis.power import ALPHA, POWER, minimum_detectable_effect
from inception_repro.analysis.probe_section import fmt
from inception_repro.analysis.stats import pooled_sd, summarize
from inception_repro.bench.study_rate import study_runs
from inception_repro.cli import ArgumentParser, run_cli
from inception_repro.config import compose_run
from inception_repro.errors import ConfigError
from inception_repro.provenance import atomic_write, provenance
from inception_repro.runs import config_hash
from inception_repro.train import train_run

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


@dataclass(frozen=True)
class Comparison:
    """One paired comparison the designs are probed on: two variants of one ablation."""

    ablation: str
    control: str
    variant: str

    @property
    def label(self) -> str:
        return f"{self.ablation} {self.variant} - {self.control}"


COMPARISONS = (Comparison("aux", "none", "bn"), Comparison("factorization", "baseline", "full7x7"),
               Comparison("optimizer", "rmsprop", "sgd"))


def detectable_effect(sd: float, n: int) -> float | None:
    """The smallest true mean delta a paired t-test on ``n`` pairs finds (analysis.power), or None."""
    effect = minimum_detectable_effect(sd, n)  # NaN below 2 pairs or without a positive sd
    return None if math.isnan(effect) else effect


def study_runs_per_seed() -> int:
    """Runs one seed of the whole study trains: its configs, each once (runs of one config are shared)."""
    return len(study_runs()[1])


def comparison_stats(done: list[dict[str, Any]], comparison: Comparison) -> dict[str, Any]:
    """The paired deltas of one comparison over the seeds where both of its runs are complete."""
    by_variant = {v: {r["seed"]: r["test_top1"] for r in done if (r["ablation"], r["variant"]) == (comparison.ablation, v)}
                  for v in (comparison.control, comparison.variant)}
    seeds = sorted(set(by_variant[comparison.control]) & set(by_variant[comparison.variant]))
    deltas = [100.0 * (by_variant[comparison.variant][k] - by_variant[comparison.control][k]) for k in seeds]
    delta = summarize(deltas)
    return {"comparison": comparison.label, "seeds": seeds, "mean_delta_pp": delta.mean if deltas else None,
            "paired_sd_pp": delta.sd if len(deltas) > 1 else None}


def design_stats(runs: list[dict[str, Any]], comparisons: list[Comparison], budget_s: float,
                 runs_per_seed: float) -> dict[str, Any]:
    """Seconds per run, each comparison's paired deltas, their pooled sd and the detectable effects."""
    done = [r for r in runs if r["status"] == "complete"]
    per_comparison = [comparison_stats(done, c) for c in comparisons]
    scored = pd.DataFrame({"n_seeds": [len(c["seeds"]) for c in per_comparison],
                           "paired_sd_pp": [c["paired_sd_pp"] for c in per_comparison]}, dtype=float)
    sd = pooled_sd(scored)
    seeds = min(len(c["seeds"]) for c in per_comparison)  # every comparison has at least these
    trained = {r["config_hash"]: r["wall_time_s"] for r in done}  # a config's run counted once
    seconds = sum(trained.values()) / len(trained) if trained else None
    affordable = int(budget_s // (seconds * runs_per_seed)) if seconds else None
    return {
        "seconds_per_run": seconds,
        "comparisons": per_comparison,
        "n_seeds": seeds,
        "pooled_sd_pp": sd if math.isfinite(sd) else None,
        "detectable_pp": detectable_effect(sd, seeds),
        "seeds_in_budget": affordable,
        "detectable_in_budget_pp": detectable_effect(sd, affordable) if affordable else None,
    }


def run_record(summary: dict[str, Any], ablation: str, variant: str, seed: int) -> dict[str, Any]:
    keys = ("status", "test_top1", "wall_time_s", "grid_sizes", "train_images_per_s", "config_hash", "git_commit")
    return {"ablation": ablation, "variant": variant, "seed": seed, **{k: summary.get(k) for k in keys}}


def probe_configs(comparisons: list[Comparison]) -> list[tuple[str, str]]:
    """The (ablation, variant) configs the comparisons need, each once, in order."""
    return list(dict.fromkeys((c.ablation, v) for c in comparisons for v in (c.control, c.variant)))


def probe(designs: dict[str, tuple[str, ...]], comparisons: list[Comparison], seeds: list[int], overrides: list[str],
          runs_dir: Path, out: Path, budget_hours: float, runs_per_seed: int, workers: int) -> dict[str, Any]:
    """Train (or read back) every run, seed by seed; a config two comparisons share is trained once;
    ``out`` is rewritten after each run."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in designs}
    result: dict[str, Any] = {}
    for seed in seeds:
        for name, design in designs.items():
            trained: dict[str, dict[str, Any]] = {}
            for ablation, variant in probe_configs(comparisons):
                cfg = run_config(ablation, variant, seed, [*overrides, *design, f"results_dir={runs_dir / name}"])
                key = config_hash(cfg)
                if key not in trained:
                    trained[key] = train_run(cfg)
                runs[name].append(run_record(trained[key], ablation, variant, seed))
                result = probe_result(designs, runs, comparisons, budget_hours, runs_per_seed, workers)
                write(result, out)
    return result


def probe_result(designs: dict[str, tuple[str, ...]], runs: dict[str, list[dict[str, Any]]],
                 comparisons: list[Comparison], budget_hours: float, runs_per_seed: int, workers: int) -> dict[str, Any]:
    return {
        "provenance": provenance(torch_version=torch.__version__, torch_threads=torch.get_num_threads()),
        "comparisons": [vars(c) for c in comparisons],
        "budget_hours": budget_hours,
        "study_runs_per_seed": runs_per_seed,
        "workers": workers,
        "power": POWER,
        "alpha": ALPHA,
        "designs": [
            {"name": name, "overrides": list(designs[name]), "runs": runs[name],
             **design_stats(runs[name], comparisons, budget_hours * 3600, runs_per_seed / workers)}
            for name in designs
        ],
    }


def merge(files: list[Path], designs: dict[str, tuple[str, ...]], overrides: list[str], budget_hours: float,
          runs_per_seed: int, workers: int) -> dict[str, Any]:
    """One result from the probes.json files of probes run apart on the same comparisons (other
    designs, or other seeds of one design). ``designs`` may restate a design's overrides; every run
    must be what its design's overrides compose to today (its config hash), so the table never
    names overrides its runs were not trained with."""
    parts = [_read_probe(f) for f in files]
    if len({json.dumps(p["comparisons"], sort_keys=True) for p in parts}) != 1:
        raise ConfigError("--merge: the files probe different comparisons")
    stated = {d["name"]: tuple(d["overrides"]) for p in parts for d in p["designs"]}
    unknown = set(designs) - set(stated)
    if unknown:
        raise ConfigError(f"--merge: no file probes the design {sorted(unknown)[0]!r}")
    stated.update(designs)
    runs: dict[str, dict[tuple, dict[str, Any]]] = {name: {} for name in stated}
    for d in (d for p in parts for d in p["designs"]):
        for r in d["runs"]:
            key = (r["ablation"], r["variant"], r["seed"])
            if runs[d["name"]].setdefault(key, r) != r:
                raise ConfigError(f"--merge: two files record {d['name']} {'/'.join(map(str, key))} differently")
    for name, by_key in runs.items():
        for (ablation, variant, seed), r in by_key.items():
            if r.get("config_hash") != config_hash(run_config(ablation, variant, seed, [*overrides, *stated[name]])):
                raise ConfigError(f"--merge: the run {name} {ablation}/{variant}/seed{seed} was not trained with the "
                                  f"config its design's overrides give today; restate them: --design {name} OVERRIDE...")
    comparisons = [Comparison(**c) for c in parts[0]["comparisons"]]
    return probe_result(stated, {n: list(r.values()) for n, r in runs.items()}, comparisons, budget_hours,
                        runs_per_seed, workers)


def _read_probe(path: Path) -> dict[str, Any]:
    try:
        result = json.loads(path.read_text())
        if not result["comparisons"] or any(k not in r for d in result["designs"] for r in d["runs"]
                                            for k in ("ablation", "variant", "seed", "config_hash")):
            raise KeyError("runs")
    except (OSError, ValueError) as error:
        raise ConfigError(f"--merge: cannot read {path} ({error.__class__.__name__})") from None
    except (KeyError, TypeError):
        raise ConfigError(f"--merge: {path} is not a probe result of this version (make probe writes one)") from None
    return result


def run_config(ablation: str, variant: str, seed: int, overrides: list[str]) -> DictConfig:
    """A probed run's config: the cpu scale unless ``overrides`` name one, no logger."""
    scale = [] if any(o.startswith("scale=") for o in overrides) else ["scale=cpu"]
    return compose_run([f"ablation={ablation}", f"variant={variant}", f"seed={seed}", "logger=none", *scale, *overrides])


def write(result: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2, default=str) + "\n"
    atomic_write(out, lambda p: p.write_text(text))


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
