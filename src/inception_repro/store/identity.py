"""Which run a config describes: its identity (where it is recorded) and its hash (what it computes)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from omegaconf import DictConfig, OmegaConf

# Keys that say where and how a run is recorded, not what it computes: two grids' runs with the same
# hash are one run (the names ablation and variant are not hashed), trained once and shared.
UNHASHED_KEYS = ("ablation", "variant", "logger", "results_dir", "run_dir", "allow_outside_results")


def run_identity(cfg: DictConfig) -> dict[str, Any]:
    """Which run a folder or checkpoint belongs to: the fields every summary.json records."""
    return {"ablation": cfg.ablation, "variant": str(cfg.variant), "seed": int(cfg.seed), "scale": cfg.scale.name}


def checkpoint_identity(cfg: DictConfig) -> dict[str, Any]:
    """What a last.ckpt records of its run, and must match to be resumed from."""
    return {"config_hash": config_hash(cfg), "seed": int(cfg.seed), "scale": cfg.scale.name}


def config_hash(cfg: DictConfig) -> str:
    """A short hash of everything in the config that can change a run's result."""
    data = OmegaConf.to_container(cfg, resolve=True)
    for key in UNHASHED_KEYS:
        data.pop(key, None)
    data.get("scale", {}).pop("seeds", None)  # how many seeds a grid runs by default, not what one run computes
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]
