"""Run one ablation's grid: ``python -m inception_repro.ablate aux [--scale cpu] [--seeds 2] [--force] [-- overrides]``.

Every variant x seed is one run folder. Complete runs are skipped, incomplete ones resume from
their last.ckpt, failed ones are listed (``--force`` reruns them). A run whose config changed
since it finished is refused rather than mixed with the new ones (``--force`` reruns it).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from inception_repro.ablations import load_ablation
from inception_repro.cli import run_cli
from inception_repro.config import compose_run
from inception_repro.errors import ConfigError, UserError
from inception_repro.runs import RunFolder, config_hash
from inception_repro.train import train_run

console = Console()


@dataclass
class PlannedRun:
    variant: str
    seed: int
    cfg: DictConfig
    folder: RunFolder
    action: str  # train | resume | skip | failed


def parse_seeds(text: str) -> list[int]:
    """``N`` means seeds 0..N-1; ``a,b,c`` lists them."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip() != ""] if "," in text else list(range(int(text)))
    except ValueError:
        raise ConfigError(f"SEEDS={text!r} is not a count (e.g. 2) or a comma list of seeds (e.g. 0,1,4)") from None
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ConfigError(f"SEEDS={text!r} must name at least one distinct, non-negative seed")
    return seeds


def plan_grid(name: str, scale: str | None, seeds: str | None, overrides: list[str], force: bool) -> list[PlannedRun]:
    """Compose every run of the grid and decide what to do with it, before any training starts."""
    ablation = load_ablation(name)
    common = [f"ablation={name}", *([f"scale={scale}"] if scale else []), *overrides]
    first = compose_run([*common, f"variant={ablation.control}"])
    seed_list = parse_seeds(seeds if seeds is not None else str(first.scale.seeds))
    planned, stale = [], []
    for variant in ablation.variants:
        for seed in seed_list:
            cfg = compose_run([*common, f"variant={variant}", f"seed={seed}"])
            folder = RunFolder(Path(cfg.run_dir))
            summary = folder.read_summary() if not force else None
            action = "train"
            if summary and summary["status"] == "complete":
                action = "skip"
                if summary.get("config_hash") != config_hash(cfg):
                    stale.append(f"{folder.root} (config hash {summary.get('config_hash')} -> {config_hash(cfg)})")
            elif summary and summary["status"] == "failed":
                action = "failed"
            elif folder.last_checkpoint.exists():
                action = "resume"
            planned.append(PlannedRun(variant, seed, cfg, folder, action))
    if stale:
        raise UserError(
            "config changed since these runs finished; refusing to mix them (FORCE=1 reruns): " + "; ".join(stale)
        )
    return planned


def _clear(folder: RunFolder) -> None:
    """Remove a run's record, checkpoints and W&B files before a forced rerun (the lock stays)."""
    for path in folder.root.iterdir() if folder.root.exists() else []:
        if path.name != ".lock":
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def run_grid(planned: list[PlannedRun], force: bool) -> None:
    todo = [p for p in planned if p.action in ("train", "resume")]
    console.print(f"[bold]{len(planned)} runs[/]: {len(todo)} to train, {len(planned) - len(todo)} already recorded")
    for i, run in enumerate(todo, 1):
        console.rule(f"[{i}/{len(todo)}] {run.cfg.ablation} / {run.variant} / seed{run.seed} ({run.action})")
        if force:
            _clear(run.folder)
        summary = train_run(run.cfg)
        console.print(f"{run.variant}/seed{run.seed}: {summary['status']}, test top-1 {summary.get('test_top1', float('nan')):.4f}")


def results_table(planned: list[PlannedRun]) -> Table:
    """Variant, complete seeds, mean test top-1 +- sd, wall time; failures and incomplete runs listed."""
    first = planned[0].cfg
    table = Table(title=f"{first.ablation} @ scale={first.scale.name}: test top-1 (EMA weights)")
    for column in ("variant", "seeds", "test top-1", "wall time", "not complete"):
        table.add_column(column)
    for variant in dict.fromkeys(p.variant for p in planned):
        runs = [p for p in planned if p.variant == variant]
        summaries = [(p, p.folder.read_summary() or {"status": "missing"}) for p in runs]
        done = [s for _, s in summaries if s["status"] == "complete"]
        accs = [s["test_top1"] for s in done]
        acc = f"{statistics.mean(accs):.4f} ± {statistics.stdev(accs):.4f}" if len(accs) > 1 else (f"{accs[0]:.4f}" if accs else "-")
        wall = sum(s.get("wall_time_s", 0.0) for _, s in summaries)
        problems = ", ".join(f"seed{p.seed}: {s['status']}" + (f" ({s['failure']})" if s.get("failure") else "")
                             for p, s in summaries if s["status"] != "complete")
        table.add_row(variant, f"{len(done)}/{len(runs)}", acc, f"{wall / 60:.1f} min", problems or "-")
    return table


def main(argv: list[str] | None = None) -> int:
    def run(args: list[str]) -> int:
        parser = argparse.ArgumentParser(prog="inception-ablate", description=__doc__.splitlines()[0])
        parser.add_argument("ablation")
        parser.add_argument("--scale", default=None, help="cpu | gpu | paper (default: gpu if CUDA is visible, else cpu)")
        parser.add_argument("--seeds", default=None, help="N (seeds 0..N-1) or a list a,b,c (default: the scale's)")
        parser.add_argument("--force", action="store_true", help="rerun finished, failed or changed runs")
        parser.epilog = "Config overrides follow a '--', e.g. -- model.width=0.5 logger=none"
        split = args.index("--") if "--" in args else len(args)
        opts, overrides = parser.parse_args(args[:split]), args[split + 1 :]
        planned = plan_grid(opts.ablation, opts.scale, opts.seeds, overrides, opts.force)
        run_grid(planned, opts.force)
        console.print(results_table(planned))
        complete = all((p.folder.read_summary() or {}).get("status") == "complete" for p in planned)
        return 0 if complete else 1

    return run_cli(run, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
