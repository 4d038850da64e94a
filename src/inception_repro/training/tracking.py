"""Weights & Biases: offline by default, online only when asked and reachable; never loses a run."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

from pytorch_lightning.loggers import WandbLogger


def wandb_run_id(scale: str, ablation: str, variant: str, seed: int) -> str:
    """A fixed id from scale-ablation-variant-seed (the run folder's identity), so reruns continue
    the same W&B run and two scales never share one."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{scale}-{ablation}-{variant}-seed{seed}")


def wandb_group(scale: str, ablation: str) -> str:
    """The W&B group of an ablation's runs at one scale."""
    return f"{scale}-{ablation}"


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
    scale: str, config: dict[str, Any], init_timeout: float = 30.0,
) -> WandbLogger:
    """A WandbLogger writing under ``run_dir/wandb``; falls back to offline, with one warning, if
    online init fails (server unreachable within ``init_timeout`` seconds, key refused)."""
    import wandb  # only runs that log to W&B need it

    mode = resolve_mode(mode)
    os.environ.setdefault("WANDB_SILENT", "true")
    run_id = wandb_run_id(scale, ablation, variant, seed)
    kwargs = dict(
        project=project, entity=entity, group=wandb_group(scale, ablation), name=run_id, id=run_id,
        tags=[ablation, variant, scale], save_dir=str(run_dir), config=config, offline=mode == "offline", mode=mode,
        settings=wandb.Settings(init_timeout=init_timeout),
    )
    logger = WandbLogger(**kwargs)
    try:
        logger.experiment  # starts the run now, so a failure to reach the server shows here
    except Exception as error:  # noqa: BLE001 - any wandb failure must fall back, not stop the run
        reason = " ".join(f"{error.__class__.__name__}: {error}".split())
        warnings.warn(f"W&B {mode} init failed ({reason}); logging offline instead (make wandb-sync uploads later)")
        wandb.teardown()  # the failed attempt still holds the run id in wandb's service process
        logger = WandbLogger(**{**kwargs, "offline": True, "mode": "offline"})
        logger.experiment
    return logger
