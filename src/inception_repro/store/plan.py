"""A grid's plan: ``decide`` for each of its runs, then the runs that share another's config.

A run is identified by its config (``config_hash``; the names ablation and variant do not count):
runs of several grids with one config train once and the others record that run, their summary
naming it in ``shared_from`` (e.g. aux/bn and factorization/baseline are one run).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from inception_repro.distributed import launched_as_rank_zero
from inception_repro.errors import UserError
from inception_repro.provenance import atomic_write
from inception_repro.store.decision import RESTART, RESUME, RETRY, SHARE, SKIP, TRAIN, decide
from inception_repro.store.folder import ConfigChangedError, RunFolder
from inception_repro.store.identity import config_hash
from inception_repro.store.records import complete_runs_by_hash


@dataclass
class PlannedRun:
    variant: str
    seed: int
    cfg: DictConfig
    folder: RunFolder
    action: str  # store.decision's, or busy (another process holds it)
    plan: ForcePlan | None = None  # the forced grid's, shared by its runs
    source: PlannedRun | RunFolder | None = None  # share: the run of the same config it records

    @property
    def name(self) -> str:
        return f"{self.cfg.ablation}/{self.variant}/seed{self.seed}"

    @property
    def to_train(self) -> bool:
        return self.action in (TRAIN, RESUME, RETRY, RESTART)


def plan_runs(configs: list[DictConfig], force: bool, retry_failed: bool = False) -> list[PlannedRun]:
    """Decide what to do with every run of a grid before any training starts; every run recorded under
    another config is named at once. ``force`` restarts every run but those this same forced grid
    restarted before it was killed (they resume); ``retry_failed`` retries the failed runs."""
    plan = ForcePlan.of(configs) if force else None
    planned, stale = [], []
    for cfg in configs:
        folder = RunFolder(Path(cfg.run_dir))
        try:
            action = decide(folder, cfg, force, plan.token if plan else None, retry_failed)
        except ConfigChangedError:
            stale.append(f"{folder.root} ({folder.config_change(folder.read_summary(), cfg)})")
            continue
        planned.append(PlannedRun(str(cfg.variant), int(cfg.seed), cfg, folder, action, plan=plan))
    if stale:
        raise UserError(
            "config changed since these runs were made; refusing to mix them (FORCE=1 reruns): " + "; ".join(stale)
        )
    share_identical(planned, {} if force else complete_runs_by_hash(configs[0].results_dir, configs[0].scale.name))
    return planned


def share_identical(planned: list[PlannedRun], recorded: dict[str, RunFolder]) -> None:
    """Mark each run to train whose config hash another run has as ``share``: a complete run of the
    store (``recorded``) or, failing that, the first planned run of that config (which trains)."""
    first: dict[str, PlannedRun] = {}
    for run in sorted(planned, key=lambda r: r.action != SKIP):  # complete runs first: they are the sources
        key = config_hash(run.cfg)
        if run.action == SKIP:
            first.setdefault(key, run)
        if not run.to_train:
            continue
        source = recorded.get(key) or first.get(key)
        if source is None or (isinstance(source, RunFolder) and source.root == run.folder.root):
            first[key] = run
        else:
            run.action, run.source = SHARE, source


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
