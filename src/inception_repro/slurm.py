"""An ablation grid as one job array (hydra-submitit-launcher): ``hydra/launcher=slurm`` or ``local``.

``python -m inception_repro.ablate aux --launcher slurm`` plans the grid (skips recorded runs,
refuses changed configs), then runs this Hydra app as a multirun over the runs still to train::

    python -m inception_repro.slurm -m ablation=aux variant=none,plain,bn seed=0,1 scale=gpu hydra/launcher=slurm

Each job composes its run with ``compose_run`` from the job's overrides (so the variant's
overrides apply, exactly as in a local grid) and trains it in its fixed run folder. A requeued
job finds that folder and resumes from last.ckpt; a job whose run is recorded (complete or
failed) leaves it alone. The multirun returns when every job has ended.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Protocol

import hydra
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.initialize import get_gh_backup, restore_gh_from_backup
from omegaconf import DictConfig

from inception_repro.config import compose_run
from inception_repro.errors import UserError
from inception_repro.paths import CONFIG_DIR
from inception_repro.train import train_run


class GridRun(Protocol):
    """What a job array needs of a planned run (``store.plan.PlannedRun``)."""

    variant: str
    seed: int
    cfg: DictConfig

LAUNCHERS = ("slurm", "local")  # configs/hydra/launcher/


def is_hydra_override(override: str) -> bool:
    """``hydra/launcher=slurm``, ``hydra.launcher.partition=gpu``: for Hydra, not for the run's config."""
    return override.lstrip("+~").startswith(("hydra/", "hydra."))


def sweep_overrides(todo: list[GridRun], launcher: str, overrides: list[str]) -> list[str]:
    """The multirun that covers ``todo``: its variants x its seeds at its scale, on ``launcher``.

    A run of that product that is already recorded costs one job that returns at once.
    """
    first = todo[0].cfg
    variants = ",".join(dict.fromkeys(run.variant for run in todo))
    seeds = ",".join(dict.fromkeys(str(run.seed) for run in todo))
    return [
        f"ablation={first.ablation}", f"variant={variants}", f"seed={seeds}", f"scale={first.scale.name}",
        *overrides, f"hydra/launcher={launcher}",
    ]


def check_launcher(launcher: str) -> None:
    """``slurm`` needs SLURM's ``sbatch`` here (submitit submits with it); without it, one line saying what to do."""
    if launcher == "slurm" and shutil.which("sbatch") is None:
        raise UserError("LAUNCHER=slurm (--launcher slurm) needs SLURM, and there is no sbatch on PATH here: run it on a "
                        "SLURM login node, or train here without LAUNCHER (or with LAUNCHER=local, the same job array as local processes)")


def send_grid(todo: list[GridRun], launcher: str, overrides: list[str]) -> int:
    """Run the multirun for ``todo`` in a child process; returns its exit status once every job has ended."""
    command = [sys.executable, "-m", "inception_repro.slurm", "-m", *sweep_overrides(todo, launcher, overrides)]
    return subprocess.run(command, check=False).returncode


def compose_job(overrides: list[str]) -> DictConfig:
    """``compose_run`` inside a Hydra app: it starts a Hydra of its own, so the app's is set aside meanwhile."""
    saved = get_gh_backup()
    GlobalHydra.instance().clear()
    try:
        return compose_run(overrides)
    finally:
        restore_gh_from_backup(saved)


def run_job(_: DictConfig) -> dict[str, Any]:
    """One job of the array: train or resume the run its overrides name (the store passes a recorded
    one at once); returns the run's summary."""
    summary = train_run(compose_job(list(HydraConfig.get().overrides.task)))
    return summary.to_dict() if summary else {}


main = hydra.main(config_path=str(Path(CONFIG_DIR).resolve()), config_name="train", version_base="1.3")(run_job)

if __name__ == "__main__":
    main()
