"""Weights & Biases: offline by default, online only when asked and reachable; never loses a run."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import wandb
from pytorch_lightning.loggers import WandbLogger


def wandb_run_id(ablation: str, variant: str, seed: int) -> str:
    """A fixed id from ablation-variant-seed, so reruns continue the same W&B run."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{ablation}-{variant}-seed{seed}")


def resolve_mode(requested: str) -> str:
    """``online`` only with an API key (env or netrc); otherwise offline, with one warning if online was asked."""
    if requested != "online":
        return "offline" if requested != "disabled" else "disabled"
    netrc = Path.home() / ".netrc"
    has_key = bool(os.environ.get("WANDB_API_KEY")) or (netrc.exists() and "api.wandb.ai" in netrc.read_text())
    if not has_key:
        warnings.warn("W&B online mode asked for but no API key found; logging offline (make wandb-sync uploads later)")
        return "offline"
    return "online"


def make_wandb_logger(
    run_dir: Path, project: str, entity: str | None, mode: str, ablation: str, variant: str, seed: int,
    scale: str, config: dict[str, Any],
) -> WandbLogger:
    """A WandbLogger writing under ``run_dir/wandb``; falls back to offline if online init fails."""
    mode = resolve_mode(mode)
    os.environ["WANDB_MODE"] = mode
    os.environ.setdefault("WANDB_SILENT", "true")
    run_id = wandb_run_id(ablation, variant, seed)
    kwargs = dict(
        project=project, entity=entity, group=ablation, name=run_id, id=run_id,
        tags=[ablation, variant, scale], save_dir=str(run_dir), config=config, offline=mode == "offline",
        settings=wandb.Settings(init_timeout=30),
    )
    logger = WandbLogger(**kwargs)
    try:
        logger.experiment  # starts the run now, so a failure to reach the server shows here
    except Exception as error:  # noqa: BLE001 - any wandb failure must fall back, not stop the run
        warnings.warn(f"W&B {mode} init failed ({error.__class__.__name__}: {error}); logging offline instead")
        os.environ["WANDB_MODE"] = "offline"
        logger = WandbLogger(**{**kwargs, "offline": True})
    return logger
