"""Train a grid's runs: in this process, or ``jobs`` at a time in worker processes that die with
the grid; a run's shares (runs of the same config under other names) are recorded once it ends.

Each run's thread count is its config's ``trainer.threads`` (1 at the cpu scale), so a run's result
does not depend on how many run at once.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from rich.console import Console

from inception_repro.errors import ConfigError, Stopped
from inception_repro.metrics import STUDY_METRIC
from inception_repro.store import RunBusyError, RunFolder, RunRecordError, Summary, run_identity
from inception_repro.store.plan import PlannedRun
from inception_repro.train import train_run

console = Console()
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


def train_all(todo: list[PlannedRun], shares: list[PlannedRun], jobs: int) -> None:
    """Train ``todo`` (in this process, or in ``jobs`` worker processes), each run's shares recorded when it ends."""

    def finished(run: PlannedRun, summary: Summary | None, error: BaseException | None = None) -> None:
        if isinstance(error, RunBusyError):
            run.action = "busy"
            console.print(f"[yellow]skipped[/]: {error}", soft_wrap=True)
        elif error is None and summary is not None:
            result = f"test top-1 {summary.metrics[STUDY_METRIC]:.4f}" if summary.status == "complete" else summary.failure
            console.print(f"{run.name}: {summary.status}, {result}", soft_wrap=True)
        for shared in (s for s in shares if s.source is run):
            record_share(shared)

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
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"), initializer=_grid_worker,
                             initargs=(os.getpid(),)) as pool, _sigterm_stops(pool):
        futures: dict[Future, PlannedRun] = {pool.submit(train_in_worker, run.cfg): run for run in todo}
        for i, future in enumerate(as_completed(futures), 1):
            run = futures[future]
            console.print(f"[{i}/{len(todo)}] ", end="")
            try:
                finished(run, future.result())
            except RunBusyError as error:
                finished(run, None, error)
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)  # the runs already training finish; no new one starts
                raise


@contextmanager
def _sigterm_stops(pool: ProcessPoolExecutor) -> Iterator[None]:
    """While the workers train, a SIGTERM to the grid (SLURM's preemption, ``kill``) stops it: each worker
    gets one too, saves its run's checkpoint at the end of the step and stops; the grid then exits 143."""

    def stop(signum: int, _frame: Any) -> None:
        workers = list((pool._processes or {}).values())  # CPython keeps them there; shutdown forgets them
        pool.shutdown(wait=False, cancel_futures=True)  # no queued run starts
        for process in workers:
            process.terminate()
        raise Stopped("the grid was stopped by SIGTERM; each run in training saved its checkpoint: "
                      "run the same command to resume", signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


_grid_process: int | None = None  # in a worker: the grid's process id
_training = False  # in a worker: whether it is in a run
_stopping = False  # in a worker: whether it got SIGTERM


def _grid_worker(parent: int) -> None:
    """A grid worker: it gets SIGTERM when the grid's process dies, even by SIGKILL; Lightning's info
    lines off (its run's log file keeps the rest)."""
    global _grid_process
    _grid_process = parent
    signal.signal(signal.SIGTERM, _on_sigterm)
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the grid died before the line above
        os.kill(os.getpid(), signal.SIGTERM)
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _on_sigterm(signum: int, _frame: Any) -> None:
    """A worker's SIGTERM, never a death mid-write (the pool's queues have locks a killed worker keeps).
    In a run, Lightning's handler stops it at the end of its step: it is called with this one while
    Lightning trains or tests, and the signal is sent again once it is (``_pass_to_lightning``);
    ``train_in_worker`` then ends the worker if the grid has died, and starts no other run. Out of a
    run, the worker ends at once if the grid has died; if the grid stops, its shutdown ends it."""
    global _stopping
    if not _training and _grid_process is not None and os.getppid() != _grid_process:
        os._exit(128 + signum)
    if _training and not _stopping:
        threading.Thread(target=_pass_to_lightning, daemon=True).start()
    _stopping = True


def _pass_to_lightning() -> None:
    """Send SIGTERM again once Lightning's handler is installed (a fit or test started), while the run lasts."""
    while _training and signal.getsignal(signal.SIGTERM) is _on_sigterm:
        time.sleep(0.1)
    if _training:
        os.kill(os.getpid(), signal.SIGTERM)


def train_in_worker(cfg: DictConfig) -> Summary | None:
    """``train_run`` in a grid worker, its output in ``.seed<k>.log`` beside the run folder. A worker
    whose grid died meanwhile ends here: nothing would give it another run or read this one's result."""
    global _training
    if _stopping:
        raise Stopped(f"{cfg.run_dir}: not started, the grid is stopping", signal.SIGTERM)
    folder = RunFolder(Path(cfg.run_dir))
    folder.root.parent.mkdir(parents=True, exist_ok=True)
    _training = True
    try:
        with open(folder.log_path, "a") as log, redirect_stdout(log), redirect_stderr(log):
            return train_run(cfg)
    finally:
        _training = False
        if _grid_process is not None and os.getppid() != _grid_process:
            os._exit(128 + signal.SIGTERM)


def record_share(run: PlannedRun) -> None:
    """Record ``run`` as the complete run of the same config it shares (its source must be complete)."""
    source = run.source.folder if isinstance(run.source, PlannedRun) else run.source
    try:
        with run.folder.locked():
            run.folder.write_shared(source, run.cfg, run_identity(run.cfg))
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
