"""Run ablation grids: ``python -m inception_repro.ablate aux [factorization ...|all] [--scale cpu] [--seeds 2] [--jobs N] [--store local] [--force] [-- overrides]``.

Every variant x seed of each named ablation (``all``: every one, the whole study) is one run folder of the store: ``--store local`` (default, results/local,
git-ignored) or ``study`` (results/, the committed study). A local grid ends by comparing each of
its runs with the committed record of the same run (inception_repro.compare). Complete runs are
skipped, incomplete ones resume from their last.ckpt, failed ones are listed (``--retry-failed``
reruns those only, ``--force`` every run; a forced grid killed midway, started again, resumes the
runs it had restarted). A complete or resumable run recorded under another config is refused rather
than mixed with the new ones (``--force`` reruns it); a failed one is replaced. A run that another
process is training (its folder is locked) is skipped and reported; the grid goes on.
``--launcher slurm`` (or ``local``) trains the runs as one job array instead (inception_repro.slurm).

A run is identified by its config (``store.config_hash``; the names ablation and variant do not
count): runs of several grids with one config train once and the others record that run, their
summary naming it in ``shared_from`` (e.g. aux/bn and factorization/baseline are one run).
``--jobs N`` trains N runs at once in worker processes (inception_repro.grid_schedule).
"""

from __future__ import annotations

import statistics
import sys
import uuid
from pathlib import Path

from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from inception_repro.ablations import ablation_names, load_ablation
from inception_repro.cli import ArgumentParser, run_cli
from inception_repro.config import compose_run
from inception_repro.distributed import launched_as_rank_zero
from inception_repro.errors import ConfigError
from inception_repro.compare import compare_with_study
from inception_repro.metrics import STUDY_METRIC
from inception_repro.provenance import project_root
from inception_repro.store import STORES, RunBusyError, Summary, read_record, reopen_run, restart_run
from inception_repro.store.decision import RESTART, RETRY, SHARE
from inception_repro.store.plan import PlannedRun, plan_runs
from inception_repro.slurm import LAUNCHERS, check_launcher, is_hydra_override, send_grid
from inception_repro.grid_schedule import check_jobs, default_jobs, record_share, train_all

console = Console()
GRID_KEYS = ("ablation", "variant", "seed", "run_dir")  # set per run by the grid, never by its overrides


def parse_seeds(text: str) -> list[int]:
    """``N`` means seeds 0..N-1; ``a,b,c`` lists them. At most 1000 seeds a grid: planning composes
    every run first (a tenth of a second each), and the most seeds any claim of the study would need
    is 140 (docs/results.md), so more is a typo, refused before minutes of silent planning."""
    most = 1000
    try:
        count = len(text.split(",")) if "," in text else int(text)
        if count > most:
            raise ConfigError(f"SEEDS={text[:20]!r} asks for {count} seeds; a grid runs at most {most} (planning composes "
                              "every run first, and no claim of the study needs more than 140); use fewer seeds")
        seeds = [int(s) for s in text.split(",") if s.strip() != ""] if "," in text else list(range(count))
    except ValueError:
        raise ConfigError(f"SEEDS={text!r} is not a count (e.g. 2) or a comma list of seeds (e.g. 0,1,4)") from None
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ConfigError(f"SEEDS={text!r} must name at least one distinct, non-negative seed")
    return seeds


def parse_ablations(names: list[str]) -> list[str]:
    """The ablations named, ``all`` meaning every one (configs/ablations), each once."""
    if not names:
        raise ConfigError("name an ablation (or all); valid: " + ", ".join(ablation_names()))
    expanded = [n for name in names for n in (ablation_names() if name == "all" else [name])]
    return list(dict.fromkeys(expanded))


def plan_grid(
    names: list[str], scale: str | None, seeds: str | None, overrides: list[str], force: bool, retry_failed: bool = False
) -> list[PlannedRun]:
    """Compose (and so validate) every run of the grids, seed by seed (a grid stopped early has whole
    seeds to pair), and let the store decide what to do with each (``store.plan.plan_runs``)."""
    set_here = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") in GRID_KEYS]
    if set_here:
        raise ConfigError(
            f"{set_here[0]}: a grid sets {', '.join(GRID_KEYS)} for each of its runs; choose seeds with SEEDS=, "
            "or train one run with python -m inception_repro.train"
        )
    configs = [cfg for name in names for cfg in _grid_configs(name, scale, seeds, overrides)]
    configs.sort(key=lambda cfg: int(cfg.seed))
    return plan_runs(configs, force, retry_failed)


def _grid_configs(name: str, scale: str | None, seeds: str | None, overrides: list[str]) -> list[DictConfig]:
    """Every variant x seed of one ablation, composed."""
    ablation = load_ablation(name)
    common = [f"ablation={name}", *([f"scale={scale}"] if scale else []), *overrides]
    first = compose_run([*common, f"variant={ablation.control}"])
    seed_list = parse_seeds(seeds if seeds is not None else str(first.scale.seeds))
    return [compose_run([*common, f"variant={v}", f"seed={s}"]) for v in ablation.variants for s in seed_list]


def run_grid(planned: list[PlannedRun], launcher: str | None = None, overrides: list[str] | None = None,
             jobs: int = 1) -> None:
    """Train the runs not yet recorded here, ``jobs`` at a time, or send them to ``launcher`` as one
    job array; record the shared runs as their sources complete."""
    plan = planned[0].plan
    todo = [p for p in planned if p.to_train]
    shares = [p for p in planned if p.action == SHARE]
    at_once = f" ({min(jobs, len(todo))} at a time)" if min(jobs, len(todo)) > 1 else ""
    where = f" on {launcher} at scale={planned[0].cfg.scale.name}" if launcher else at_once
    console.print(f"[bold]{len(planned)} runs[/]: {len(todo)} to train{where}, {len(planned) - len(todo) - len(shares)} "
                  f"already recorded, {len(shares)} shared with a run of the same config", soft_wrap=True)
    token = plan.token if plan else uuid.uuid4().hex
    todo = [run for run in todo if _prepare_record(run, token)]
    pending = [run for run in shares if any(run.source is t for t in todo)]  # recorded when the run they share ends
    for run in shares:
        if not any(run is p for p in pending):
            record_share(run)
    if launcher:
        if todo:
            send_grid(todo, launcher, overrides or [])
        if pending:
            console.print(f"{len(pending)} runs share a run of this array: the same command records them once it has ended")
    elif todo:
        train_all(todo, pending, jobs)
    if plan:
        plan.done()


def _prepare_record(run: PlannedRun, token: str) -> bool:
    """Delete a run's record before training it again, or reopen a failed one to retry it, if the plan
    says so (rank 0 only); False, and the run marked busy, if another process holds it."""
    if run.action not in (RESTART, RETRY) or not launched_as_rank_zero():
        return True
    try:
        restart_run(run.cfg, token) if run.action == RESTART else reopen_run(run.cfg)
    except RunBusyError as error:
        run.action = "busy"
        console.print(f"[yellow]skipped[/]: {error}", soft_wrap=True)
        return False
    return True


def _problem(run: PlannedRun, summary: Summary | None) -> str:
    """``seed1: failed (non-finite loss nan at step 7)``; a run another process holds says so."""
    detail = "trained by another process" if run.action == "busy" else summary and summary.failure
    return f"seed{run.seed}: {summary.status if summary else 'missing'}" + (f" ({detail})" if detail else "")


def results_tables(planned: list[PlannedRun]) -> list[Table]:
    """One ``results_table`` per ablation of the plan."""
    names = dict.fromkeys(p.cfg.ablation for p in planned)
    return [results_table([p for p in planned if p.cfg.ablation == name]) for name in names]


def results_table(planned: list[PlannedRun]) -> Table:
    """Variant, complete seeds, mean test top-1 +- sd, wall time; failures and incomplete runs listed.
    The wall time counts each run once, where it was trained: shared runs are counted as "N shared"."""
    first = planned[0].cfg
    table = Table(title=f"{first.ablation} @ scale={first.scale.name}: test top-1 (EMA weights)")
    for column in ("variant", "seeds", "test top-1", "wall time", "not complete"):
        table.add_column(column)
    for variant in dict.fromkeys(p.variant for p in planned):
        runs = [p for p in planned if p.variant == variant]
        summaries = [(p, p.folder.read_summary()) for p in runs]
        done = [s for _, s in summaries if s and s.status == "complete"]
        accs = [s.metrics[STUDY_METRIC] for s in done]
        acc = f"{statistics.mean(accs):.4f} ± {statistics.stdev(accs):.4f}" if len(accs) > 1 else (f"{accs[0]:.4f}" if accs else "-")
        wall = sum(s.wall_time_s or 0.0 for _, s in summaries if s and not s.shared_from)
        shared = sum(bool(s and s.shared_from) for _, s in summaries)
        problems = ", ".join(_problem(p, s) for p, s in summaries if not (s and s.status == "complete"))
        wall_text = " + ".join([*([f"{wall / 60:.1f} min"] if shared < len(runs) else []),
                                *([f"{shared} shared"] if shared else [])])
        table.add_row(variant, f"{len(done)}/{len(runs)}", acc, wall_text, problems or "-")
    return table


def store_override(store: str, overrides: list[str]) -> list[str]:
    """``results_dir=`` of the chosen store, unless the overrides name a results_dir themselves."""
    if any(o.split("=", 1)[0].lstrip("+~") == "results_dir" for o in overrides):
        return []
    return [f"results_dir={STORES[store]}"]


def print_comparison(planned: list[PlannedRun]) -> None:
    """Each run against the committed study's record of the same run; nothing when the grid wrote the study."""
    study = project_root() / STORES["study"]
    if Path(planned[0].cfg.results_dir).resolve() == study.resolve():
        return
    console.print(f"[bold]Against the committed study[/] ({study}):")
    for comparison in compare_with_study([read_record(p.folder.root) for p in planned], study):
        console.print(f"  {comparison.line()}", soft_wrap=True, markup=False)


def main(argv: list[str] | None = None) -> int:
    def run(args: list[str]) -> int:
        parser = ArgumentParser(prog="inception-ablate", description=__doc__.splitlines()[0])
        parser.add_argument("ablations", nargs="+", metavar="ablation", help="one or more ablations, or all")
        parser.add_argument("--scale", default=None, help="cpu | study_gpu | gpu | paper (default: gpu if CUDA is visible, else cpu)")
        parser.add_argument("--seeds", default=None, help="N (seeds 0..N-1) or a list a,b,c (default: the scale's)")
        parser.add_argument("--jobs", type=int, default=None,
                            help="runs trained at once (default: at the cpu scale one per core, else 1)")
        parser.add_argument("--store", choices=STORES, default="local", help="local: results/local (default); study: results/, the committed study")
        parser.add_argument("--force", action="store_true", help="rerun finished, failed or changed runs")
        parser.add_argument("--retry-failed", action="store_true", help="rerun the failed runs only")
        parser.add_argument("--launcher", choices=LAUNCHERS, help="train as one job array: on SLURM, or submitit's local executor")
        parser.epilog = "Config overrides follow a '--', e.g. -- model.width=0.5 logger=none"
        split = args.index("--") if "--" in args else len(args)
        opts, overrides = parser.parse_args(args[:split]), args[split + 1 :]
        check_launcher(opts.launcher)  # before planning: a forced grid would delete records first
        run_overrides = [o for o in overrides if not is_hydra_override(o)] if opts.launcher else overrides
        store = store_override(opts.store, overrides)
        planned = plan_grid(parse_ablations(opts.ablations), opts.scale, opts.seeds, store + run_overrides, opts.force,
                            opts.retry_failed)
        jobs = default_jobs(planned) if opts.jobs is None else opts.jobs
        check_jobs(planned, jobs)
        run_grid(planned, opts.launcher, store + overrides, jobs)
        for table in results_tables(planned):
            console.print(table)
        print_comparison(planned)
        complete = all(getattr(p.folder.read_summary(), "status", None) == "complete" for p in planned)
        return 0 if complete else 1

    return run_cli(run, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
