"""``make bench``: CPU benchmarks of this machine, written to results/bench/cpu.json with provenance.

- ``ours_vs_torchvision_ratio``: training images/s of our Inception-v3 over torchvision's
  Inception3 at the same shape (299 px with the aux head; also 75 px without), target >= 0.98.
- ``lightning_overhead``: (Lightning loop - plain loop) / plain loop on the cpu scale's module
  and batches, target <= 0.05.
- ``data_images_per_s`` against ``model_images_per_s`` at the cpu scale: the loader must be faster.
- ``scaling``: images/s and peak resident memory against width and input size (the v3 stem), each
  point alone in a subprocess, its peak counted from just before the model is built (Linux /proc).
- ``study_rate``: seeds of the whole study per hour of this machine, before and after shared runs
  and parallel workers (inception_repro.bench.study_rate).
6m49s on 2 cores shared with other jobs (load 3-6). No figure here is asserted by a test.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from inception_repro.bench.lightning import lightning_overhead
from inception_repro.bench.loops import Shape, scaling_point, torchvision_ratio
from inception_repro.bench.study_rate import WHOLE_STUDY, study_rate
from inception_repro.cli import run_cli
from inception_repro.config import compose_run
from inception_repro.provenance import atomic_write, host_cpu, provenance

OUT = Path("results/bench/cpu.json")
RATIO_TARGET = 0.98
OVERHEAD_TARGET = 0.05
console = Console()


@dataclass(frozen=True)
class Settings:
    """How much to measure; the defaults take 7 minutes on 2 shared cores."""

    shapes: tuple[Shape, ...] = (Shape(299, 4, True, 3), Shape(75, 16, False, 6))
    rounds: int = 5
    warmup: int = 5
    steps: int = 40
    lightning_rounds: int = 3
    data_batches: int = 200
    points: tuple[tuple[float, int], ...] = ((0.125, 75), (0.25, 75), (0.5, 75), (1.0, 75), (0.125, 151), (0.125, 299))
    point_batch: int = 32
    point_steps: int = 5
    study_steps: int = 4
    study_ablations: tuple[str, ...] = WHOLE_STUDY  # the study rate's grid
    overrides: tuple[str, ...] = ()  # for the cpu scale's config, e.g. data.cache_dir=...


def cpu_scale(*overrides: str):
    return compose_run(["scale=cpu", "logger=none", *overrides])


def measure_point(width: float, size: int, settings: Settings) -> dict:
    """One scaling point in a fresh interpreter (its peak memory is its own)."""
    command = [sys.executable, "-m", "inception_repro.bench.cpu", "--point", str(width), str(size),
               str(settings.point_batch), str(settings.point_steps)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(settings: Settings) -> dict:
    """Every benchmark, in order; returns the record written to cpu.json. The machine's load
    average before and after is recorded: other processes on the cores distort every figure."""
    load_before, start = os.getloadavg(), time.perf_counter()
    cfg = cpu_scale(*settings.overrides)
    console.print(f"[bold]torchvision comparison[/] ({len(settings.shapes)} shapes x {settings.rounds} rounds)")
    shapes = [torchvision_ratio(shape, settings.rounds, cfg) for shape in settings.shapes]
    console.print("[bold]Lightning vs plain loop[/] (cpu scale)")
    loop = lightning_overhead(cfg, settings.warmup, settings.steps, settings.lightning_rounds, settings.data_batches)
    console.print(f"[bold]scaling[/] ({len(settings.points)} points, one process each)")
    scaling = [measure_point(width, size, settings) for width, size in settings.points]
    console.print("[bold]study rate[/] (every run of one seed, then each config once, one worker per core)")
    study = study_rate(settings.study_steps, settings.overrides, settings.study_ablations)
    ratio, overhead = shapes[0]["ratio"], loop["lightning_overhead"]
    return {
        "provenance": provenance(torch_version=torch.__version__, torch_threads=torch.get_num_threads(), cpu=host_cpu(),
                                 load_average_before=load_before, load_average_after=os.getloadavg(),
                                 wall_time_s=round(time.perf_counter() - start, 1),
                                 openmp={k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}),
        "ours_vs_torchvision_ratio": ratio,
        "ours_vs_torchvision_target": RATIO_TARGET,
        "ours_vs_torchvision_met": ratio >= RATIO_TARGET,
        "lightning_overhead": overhead,
        "lightning_overhead_target": OVERHEAD_TARGET,
        "lightning_overhead_met": overhead <= OVERHEAD_TARGET,
        "data_images_per_s": loop["data_images_per_s"],
        "model_images_per_s": loop["model_images_per_s"],
        "loader_outruns_model": loop["data_images_per_s"] > loop["model_images_per_s"],
        "torchvision": shapes,
        "loop": loop,
        "scaling": scaling,
        "before_seeds_per_hour": study["before_seeds_per_hour"],
        "after_seeds_per_hour": study["after_seeds_per_hour"],
        "study_rate": study,
        "settings": asdict(settings),
    }


def report(result: dict) -> None:
    met = {True: "[green]met[/]", False: "[red]not met[/]"}
    summary = Table(title="CPU benchmarks (results/bench/cpu.json)")
    for column in ("figure", "value", "target"):
        summary.add_column(column)
    for shape in result["torchvision"]:
        summary.add_row(
            f"ours / torchvision img/s, {shape['input_size']} px batch {shape['batch']} aux={shape['aux']}",
            f"{shape['ratio']:.3f} ({shape['ours_images_per_s']:.1f} / {shape['torchvision_images_per_s']:.1f})", "",
        )
    summary.add_row("ours_vs_torchvision_ratio", f"{result['ours_vs_torchvision_ratio']:.3f}",
                    f">= {RATIO_TARGET} {met[result['ours_vs_torchvision_met']]}")
    summary.add_row("lightning_overhead", f"{result['lightning_overhead']:+.3f}",
                    f"<= {OVERHEAD_TARGET} {met[result['lightning_overhead_met']]}")
    summary.add_row("data_images_per_s (cpu scale)", f"{result['data_images_per_s']:.0f}",
                    f"> model {met[result['loader_outruns_model']]}")
    summary.add_row("model_images_per_s (cpu scale)", f"{result['model_images_per_s']:.0f}", "")
    console.print(summary)
    scaling = Table(title="Training throughput and peak memory (batch %d)" % result["settings"]["point_batch"])
    for column in ("width", "input px", "MMACs/img", "img/s", "peak RSS MiB", "of which training MiB"):
        scaling.add_column(column, justify="right")
    for p in result["scaling"]:
        scaling.add_row(f"{p['width']}", f"{p['input_size']}", f"{p['macs_per_image'] / 1e6:.0f}",
                        f"{p['images_per_s']:.1f}", f"{p['peak_rss_mib']:.0f}",
                        f"{p['peak_rss_mib'] - p['rss_before_model_mib']:.0f}")
    console.print(scaling)
    study = result["study_rate"]
    console.print(f"study seeds per hour ({study['counts']}): before {study['before_seeds_per_hour']:.2f} "
                  f"({study['runs_per_seed']} runs, one at a time on {study['cores']} threads), after "
                  f"{study['after_seeds_per_hour']:.2f} ({study['configs_per_seed']} configs, {study['cores']} workers "
                  "on one thread each)")


def write(result: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2, default=str) + "\n"
    atomic_write(out, lambda p: p.write_text(text))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="inception-bench-cpu", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--point", nargs=4, metavar=("WIDTH", "SIZE", "BATCH", "STEPS"),
                        help="measure one scaling point and print it as JSON (used in a subprocess)")
    parser.add_argument("overrides", nargs="*", help="config overrides for the cpu scale, e.g. data.cache_dir=...")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    if args.point:
        width, size, batch, steps = float(args.point[0]), int(args.point[1]), int(args.point[2]), int(args.point[3])
        point = cpu_scale("model.stem=v3", f"model.width={width}", f"model.input_size={size}")  # 10 classes, grayscale
        print(json.dumps(scaling_point(point, 10, batch, steps)))
        return 0
    result = run(Settings(overrides=tuple(args.overrides)))
    write(result, args.out)
    report(result)
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, sys.argv[1:]))  # one line, the traceback in a crash.log
