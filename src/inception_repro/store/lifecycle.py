"""Beginning and finishing a run's record, under the run's lock.

``begin`` clears what the decision says to replace, removes a killed process's unfinished writes,
checks the checkpoint and history a resume would build on, and writes the started record;
``finish`` writes the ended one. Both write summary.json atomically (store/folder.py).
"""

from __future__ import annotations

import platform
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from inception_repro.provenance import git_commit, git_dirty, host_cpu
from inception_repro.store.decision import RECORDED, RESTART, decide
from inception_repro.store.folder import RunFolder, RunRecordError
from inception_repro.store.history import history_problem
from inception_repro.store.identity import checkpoint_identity, config_hash, run_identity
from inception_repro.store.summary import Summary
from inception_repro.training.checkpoint import check_checkpoint

CODE_PATHS = ("src", "configs", "pyproject.toml")  # what makes a run; results/ and notebooks/ do not


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Session:
    """A run being trained: its folder, the record it writes, and where it resumes from."""

    folder: RunFolder
    summary: Summary
    resume_from: Path | None
    trained_s: float  # wall time of the steps the checkpoint keeps (0 when starting afresh)


def recorded(folder: RunFolder, cfg: DictConfig, force: bool = False) -> Summary | None:
    """The run's record if it is left as it is (complete, or failed and not retried), else None;
    ``RunBusyError`` if another process trains the run, ``ConfigChangedError`` if it was recorded
    under another config."""
    if folder.lock_path.exists():
        with folder.locked():
            pass
    return folder.read_summary() if decide(folder, cfg, force) in RECORDED else None


def restart_run(cfg: DictConfig, force_token: str) -> None:
    """Delete the run's record (as ``force`` does) and mark its new one with ``force_token``, so a
    forced grid that is killed and started again resumes the runs it restarted (ablate --force)."""
    folder = RunFolder(Path(cfg.run_dir))
    with folder.locked():
        folder.clear(run_identity(cfg))
        folder.write_summary(Summary(status="incomplete", **run_identity(cfg), config_hash=config_hash(cfg),
                                     force_token=force_token, started_at=now()))


def reopen_run(cfg: DictConfig) -> None:
    """Mark a failed run incomplete, so that it resumes from its last good checkpoint (RETRY_FAILED)."""
    folder = RunFolder(Path(cfg.run_dir))
    with folder.locked():
        summary = folder.read_summary()
        folder.write_summary(summary.updated(status="incomplete", finished_at=None))


def begin(folder: RunFolder, cfg: DictConfig, action: str, costs: dict[str, Any]) -> Session:
    """Start (or resume) the run ``cfg`` in ``folder`` as ``decide`` said (hold its lock): its record
    says ``incomplete`` until ``finish``. ``costs``: the network's params, macs and grid sizes."""
    folder.check_usable()
    if action == RESTART:
        folder.clear(run_identity(cfg))
    folder.remove_partial_writes()
    previous = folder.read_summary()
    resumed = previous if previous is not None and previous.status == "incomplete" else None
    kept = check_checkpoint(folder.last_checkpoint, checkpoint_identity(cfg)) if folder.last_checkpoint.exists() else None
    if kept is not None:
        problem = history_problem(folder.metrics, complete=False, through_step=kept.global_step,
                                  log_every=int(cfg.trainer.log_every_n_steps))
        if problem:
            raise RunRecordError(f"{folder.metrics} is a broken record ({problem}); resuming would lose its rows: "
                                 f"delete the run folder {folder.root}, or rerun with FORCE=1")
    summary = Summary(
        status="incomplete", **run_identity(cfg), config_hash=config_hash(cfg), git_commit=git_commit(),
        git_dirty=git_dirty(*CODE_PATHS), torch_version=torch.__version__, platform=platform.platform(),
        **_host_cpus(resumed), started_at=resumed.started_at if resumed else now(), **_thread_counts(resumed),
        force_token=resumed.force_token if resumed else None, **costs,
    )
    folder.write_summary(summary)
    folder.write_config(cfg)
    if kept is None:
        trained = 0.0
    elif kept.wall_time_s is not None:  # the time the checkpoint's kept steps took
        trained = kept.wall_time_s
    else:  # a checkpoint older than that record: the interrupted session's summary
        trained = float(resumed.wall_time_s or 0.0) if resumed else 0.0
    return Session(folder, summary, folder.last_checkpoint if kept is not None else None, trained)


def finish(session: Session, status: str, **fields: Any) -> Summary:
    """Write the run's record as it ended: ``complete``, ``failed`` (it diverged) or ``incomplete``
    (stopped: it resumes); ``fields``: metrics, progress, device, failure."""
    ended = now() if status != "incomplete" else None
    session.summary = session.summary.updated(status=status, finished_at=ended, **fields)
    session.folder.write_summary(session.summary)
    return session.summary


def _thread_counts(previous: Summary | None) -> dict[str, int]:
    """``num_threads`` (torch's CPU threads) of the run's first session, ``num_threads_resumed`` if a
    resume uses another count: CPU kernels then split their sums differently, so the resumed run is
    not bitwise the uninterrupted one (warned)."""
    now_threads = torch.get_num_threads()
    first = previous.num_threads if previous and previous.num_threads is not None else now_threads
    if first == now_threads:
        return {"num_threads": now_threads}
    warnings.warn(
        f"resuming on {now_threads} CPU threads, the run started on {first}: its results will not be bitwise those of "
        f"an uninterrupted run; set OMP_NUM_THREADS={first} to resume it exactly", stacklevel=3,
    )
    return {"num_threads": first, "num_threads_resumed": now_threads}


def _host_cpus(previous: Summary | None) -> dict[str, str]:
    """``cpu`` (the host CPU) of the run's first session, ``cpu_resumed`` if a resume runs on another kind of
    CPU: its kernels may round differently, so the resumed run is not bitwise the uninterrupted one (warned)."""
    here = host_cpu()
    first = previous.cpu if previous and previous.cpu else here
    if first == here:
        return {"cpu": here}
    warnings.warn(
        f"resuming on another CPU ({here}) than the run started on ({first}): its results will not be bitwise "
        "those of an uninterrupted run", stacklevel=3,
    )
    return {"cpu": first, "cpu_resumed": here}
