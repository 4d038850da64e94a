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

A run is identified by its config (``runs.config_hash``; the names ablation and variant do not
count): runs of several grids with one config train once and the others record that run, their
summary naming it in ``shared_from`` (e.g. aux/bn and factorization/baseline are one run).
``--jobs N`` trains N runs at once in worker processes; each run's thread count is its config's
``trainer.threads`` (1 at the cpu scale), so a run's result does not depend on N.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import uuid
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from inception_repro.ablations import ablation_names, load_ablation
from inception_repro.cli import ArgumentParser, run_cli
from inception_repro.config import compose_run
from inception_repro.distributed import launched_as_rank_zero
from inception_repro.errors import ConfigError, UserError
from inception_repro.compare import compare_with_study
from inception_repro.provenance import atomic_write, project_root
from inception_repro.runs import (
    STORES, RunBusyError, RunFolder, RunRecordError, complete_runs_by_hash, config_hash, read_record,
)
from inception_repro.slurm import LAUNCHERS, is_hydra_override, send_grid
from inception_repro.train import restart_run, train_run

console = Console()
GRID_KEYS = ("ablation", "variant", "seed", "run_dir")  # set per run by the grid, never by its overrides


@dataclass
class PlannedRun:
    variant: str
    seed: int
    cfg: DictConfig
    folder: RunFolder
    action: str  # train | resume | share | skip | failed | busy
    restart: bool = False  # delete its record first (forced, retried, or replacing a failed one)
    plan: ForcePlan | None = None  # the forced grid's, shared by its runs
    source: PlannedRun | RunFolder | None = None  # share: the run of the same config it records

    @property
    def name(self) -> str:
        return f"{self.cfg.ablation}/{self.variant}/seed{self.seed}"


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
    """Compose (and so validate) every run of the grids and decide what to do with it, before any training starts.

    ``force`` restarts every run but those this same forced grid restarted before it was killed
    (they resume); ``retry_failed`` restarts the failed runs only. A run whose config another
    complete or planned run has is shared rather than trained (``share_identical``).
    """
    set_here = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") in GRID_KEYS]
    if set_here:
        raise ConfigError(
            f"{set_here[0]}: a grid sets {', '.join(GRID_KEYS)} for each of its runs; choose seeds with SEEDS=, "
            "or train one run with python -m inception_repro.train"
        )
    configs = [cfg for name in names for cfg in _grid_configs(name, scale, seeds, overrides)]
    configs.sort(key=lambda cfg: int(cfg.seed))  # seed by seed: a grid stopped early has whole seeds to pair
    plan = ForcePlan.of(configs) if force else None
    planned, stale = [], []
    for cfg in configs:
        run = PlannedRun(str(cfg.variant), int(cfg.seed), cfg, RunFolder(Path(cfg.run_dir)), "train", plan=plan)
        summary = run.folder.read_summary()
        if plan and not (summary and summary.get("force_token") == plan.token):
            run.restart = True
        elif summary:
            change = run.folder.config_change(summary, cfg)
            if change and not run.folder.replaceable(summary):
                stale.append(f"{run.folder.root} ({change})")
            run.restart = bool(change) or (retry_failed and summary["status"] == "failed")
            if not run.restart:
                run.action = {"complete": "skip", "failed": "failed"}.get(summary["status"], run.action)
        if run.action == "train" and not run.restart and run.folder.last_checkpoint.exists():
            run.action = "resume"
        planned.append(run)
    if stale:
        raise UserError(
            "config changed since these runs were made; refusing to mix them (FORCE=1 reruns): " + "; ".join(stale)
        )
    share_identical(planned, {} if force else complete_runs_by_hash(configs[0].results_dir, configs[0].scale.name))
    return planned


def _grid_configs(name: str, scale: str | None, seeds: str | None, overrides: list[str]) -> list[DictConfig]:
    """Every variant x seed of one ablation, composed."""
    ablation = load_ablation(name)
    common = [f"ablation={name}", *([f"scale={scale}"] if scale else []), *overrides]
    first = compose_run([*common, f"variant={ablation.control}"])
    seed_list = parse_seeds(seeds if seeds is not None else str(first.scale.seeds))
    return [compose_run([*common, f"variant={v}", f"seed={s}"]) for v in ablation.variants for s in seed_list]


def share_identical(planned: list[PlannedRun], recorded: dict[str, RunFolder]) -> None:
    """Mark each run to train whose config hash another run has as ``share``: a complete run of the
    store (``recorded``) or, failing that, the first planned run of that config (which trains)."""
    first: dict[str, PlannedRun] = {}
    for run in sorted(planned, key=lambda r: r.action != "skip"):  # complete runs first: they are the sources
        key = config_hash(run.cfg)
        if run.action == "skip":
            first.setdefault(key, run)
        if run.action not in ("train", "resume"):
            continue
        source = recorded.get(key) or first.get(key)
        if source is None or (isinstance(source, RunFolder) and source.root == run.folder.root):
            first[key] = run
        else:
            run.action, run.source, run.restart = "share", source, True


@dataclass
class ForcePlan:
    """The token a forced grid marks the runs it restarts with, kept in a file until the grid has
    run them all: the same command started again after a crash finds it and resumes those runs."""

    path: Path
    token: str

    @classmethod
    def of(cls, configs: list[DictConfig]) -> ForcePlan:
        """The plan of this grid: the one a killed run of it left, else a new one."""
        grid = sorted(f"{cfg.run_dir} {config_hash(cfg)}" for cfg in configs)
        path = Path(configs[0].run_dir).parent.parent / ".force-plan.json"
        try:
            saved = json.loads(path.read_text())
            if saved["grid"] == grid:
                return cls(path, str(saved["token"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass
        plan = cls(path, uuid.uuid4().hex)
        if launched_as_rank_zero():  # ranks > 0 of a DDP grid find rank 0's plan
            path.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps({"grid": grid, "token": plan.token}, indent=2) + "\n"
            atomic_write(path, lambda p: p.write_text(text))
        return plan

    def done(self) -> None:
        if launched_as_rank_zero():
            self.path.unlink(missing_ok=True)


def run_grid(planned: list[PlannedRun], launcher: str | None = None, overrides: list[str] | None = None,
             jobs: int = 1) -> None:
    """Train the runs not yet recorded here, ``jobs`` at a time, or send them to ``launcher`` as one
    job array; record the shared runs as their sources complete."""
    plan = planned[0].plan
    todo = [p for p in planned if p.action in ("train", "resume")]
    shares = [p for p in planned if p.action == "share"]
    at_once = f" ({min(jobs, len(todo))} at a time)" if min(jobs, len(todo)) > 1 else ""
    where = f" on {launcher} at scale={planned[0].cfg.scale.name}" if launcher else at_once
    console.print(f"[bold]{len(planned)} runs[/]: {len(todo)} to train{where}, {len(planned) - len(todo) - len(shares)} "
                  f"already recorded, {len(shares)} shared with a run of the same config", soft_wrap=True)
    token = plan.token if plan else uuid.uuid4().hex
    todo = [run for run in todo if _restart(run, token)]
    pending = [run for run in shares if any(run.source is t for t in todo)]  # recorded when the run they share ends
    for run in shares:
        if not any(run is p for p in pending):
            _share(run)
    if launcher:
        if todo:
            send_grid(todo, launcher, overrides or [])
        if pending:
            console.print(f"{len(pending)} runs share a run of this array: the same command records them once it has ended")
    elif todo:
        _train_all(todo, pending, jobs)
    if plan:
        plan.done()


def _train_all(todo: list[PlannedRun], shares: list[PlannedRun], jobs: int) -> None:
    """Train ``todo`` (in this process, or in ``jobs`` worker processes), each run's shares recorded when it ends."""

    def finished(run: PlannedRun, summary: dict | None, error: BaseException | None = None) -> None:
        if isinstance(error, RunBusyError):
            run.action = "busy"
            console.print(f"[yellow]skipped[/]: {error}", soft_wrap=True)
        elif error is None and summary is not None:
            result = f"test top-1 {summary['test_top1']:.4f}" if summary["status"] == "complete" else summary.get("failure")
            console.print(f"{run.name}: {summary['status']}, {result}", soft_wrap=True)
        for shared in (s for s in shares if s.source is run):
            _share(shared)

    jobs = min(jobs, len(todo))
    if jobs == 1:
        for i, run in enumerate(todo, 1):
            console.rule(f"[{i}/{len(todo)}] {run.cfg.ablation} / {run.variant} / seed{run.seed} ({run.action})")
            try:
                summary = train_run(run.cfg)  # ranks > 0 of a DDP grid train along, they clear nothing
            except RunBusyError as error:
                finished(run, None, error)
                continue
            finished(run, summary)
        return
    console.print(f"{jobs} workers; each run's output (its progress) goes to .seed<k>.log beside its folder, "
                  f"e.g. {todo[0].folder.log_path}", soft_wrap=True)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"), initializer=_quiet_worker) as pool:
        futures: dict[Future, PlannedRun] = {pool.submit(train_in_worker, run.cfg): run for run in todo}
        for i, future in enumerate(as_completed(futures), 1):
            run = futures[future]
            console.print(f"[{i}/{len(todo)}] ", end="")
            try:
                finished(run, future.result())
            except RunBusyError as error:
                finished(run, None, error)
            except BaseException:
                pool.shutdown(cancel_futures=True)  # the runs already training finish; no new one starts
                raise


def _quiet_worker() -> None:
    """A grid worker: Lightning's info lines off (its run's log file keeps the rest)."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)


def train_in_worker(cfg: DictConfig) -> dict:
    """``train_run`` in a grid worker, its output in ``.seed<k>.log`` beside the run folder."""
    folder = RunFolder(Path(cfg.run_dir))
    folder.root.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.log_path, "a") as log, redirect_stdout(log), redirect_stderr(log):
        return train_run(cfg)


def _share(run: PlannedRun) -> None:
    """Record ``run`` as the complete run of the same config it shares (its source must be complete)."""
    source = run.source.folder if isinstance(run.source, PlannedRun) else run.source
    try:
        with run.folder.locked():
            run.folder.write_shared(source, run.cfg)
    except RunBusyError as error:
        run.action = "busy"
        console.print(f"[yellow]skipped[/]: {error}", soft_wrap=True)
        return
    except RunRecordError as error:
        run.action = "failed"
        console.print(f"{run.name}: not recorded: {error}", soft_wrap=True)
        return
    console.print(f"{run.name}: shared, the same run as {source.root}", soft_wrap=True)


def default_jobs(planned: list[PlannedRun]) -> int:
    """Workers a grid uses unless told: at the CPU scales whose runs set ``trainer.threads``, as many
    as the cores allow; else one (runs then use torch's threads, and N of them would compete)."""
    cfg = planned[0].cfg
    if cfg.trainer.accelerator != "cpu" or not cfg.trainer.threads or _distributed(cfg):
        return 1
    return max(1, available_cores() // int(cfg.trainer.threads))


def available_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _distributed(cfg: DictConfig) -> bool:
    t = cfg.trainer
    return str(t.strategy).startswith("ddp") or t.num_nodes > 1 or t.devices not in (1, "1", "auto")


def check_jobs(planned: list[PlannedRun], jobs: int) -> None:
    """Refuse ``jobs`` > 1 for CPU runs without a fixed thread count: their results would depend on N."""
    cfg = planned[0].cfg
    if jobs < 1:
        raise ConfigError(f"JOBS={jobs}: must be at least 1")
    if jobs > 1 and _distributed(cfg):
        raise ConfigError(f"JOBS={jobs}: a distributed run (trainer.strategy={cfg.trainer.strategy}) takes the whole "
                          "machine; use JOBS=1")
    if jobs > 1 and cfg.trainer.accelerator == "cpu" and not cfg.trainer.threads:
        raise ConfigError(f"JOBS={jobs} needs trainer.threads set (e.g. trainer.threads=1): a CPU run's result "
                          "depends on its thread count")


def _restart(run: PlannedRun, token: str) -> bool:
    """Delete a run's record before training it again, if the plan says so (rank 0 only); False,
    and the run marked busy, if another process holds it."""
    if not run.restart or not launched_as_rank_zero():
        return True
    try:
        restart_run(run.cfg, token)
    except RunBusyError as error:
        run.action = "busy"
        console.print(f"[yellow]skipped[/]: {error}", soft_wrap=True)
        return False
    return True


def _problem(run: PlannedRun, summary: dict) -> str:
    """``seed1: failed (non-finite loss nan at step 7)``; a run another process holds says so."""
    detail = "trained by another process" if run.action == "busy" else summary.get("failure")
    return f"seed{run.seed}: {summary['status']}" + (f" ({detail})" if detail else "")


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
        summaries = [(p, p.folder.read_summary() or {"status": "missing"}) for p in runs]
        done = [s for _, s in summaries if s["status"] == "complete"]
        accs = [s["test_top1"] for s in done]
        acc = f"{statistics.mean(accs):.4f} ± {statistics.stdev(accs):.4f}" if len(accs) > 1 else (f"{accs[0]:.4f}" if accs else "-")
        wall = sum(s.get("wall_time_s", 0.0) for _, s in summaries if "shared_from" not in s)
        shared = sum("shared_from" in s for _, s in summaries)
        problems = ", ".join(_problem(p, s) for p, s in summaries if s["status"] != "complete")
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
        complete = all((p.folder.read_summary() or {}).get("status") == "complete" for p in planned)
        return 0 if complete else 1

    return run_cli(run, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
