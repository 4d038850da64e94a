"""The typed schema of a composed run config: every key, its type and what it allows, declared once.

``validate(cfg)`` checks a whole run config before anything is written and raises one
``ConfigError`` naming the key, the value and what is allowed. Each config group is a dataclass
whose annotations give the types (``Literal`` for choices) and whose field metadata give the
ranges; a group chosen by name (``data``, ``optimizer``, ``logger``) is a union of dataclasses told
apart by their ``name`` (``schema_checks`` checks them). A key the schema does not declare is refused, so a new config key must be
declared here. The network's own choices and ranges are ``InceptionConfig``'s (models/config.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from inception_repro.errors import ConfigError
from inception_repro.models.config import InceptionConfig
from inception_repro.schema_checks import check_group, plain_name, ranged

MAX_BATCH_ACTIVATIONS_GB = 192
"""The most memory a training batch's activations may need: one device's, the largest accelerators' (B200, MI300X)."""
RESULTS_FOLDER = "results"
ALLOW_OUTSIDE = "allow_outside_results"


POSITIVE = {"low": 0, "low_open": True}
MAX_SEED = 2**32 - 1
"""The largest seed Lightning's seed_everything (numpy's RandomState) accepts."""
FRACTION = {"low": 0, "high": 1, "high_open": True}


@dataclass(kw_only=True)
class FashionMNISTData:
    name: Literal["fashion_mnist"]
    root: str | None
    cache_dir: str
    download: bool
    in_chans: Literal[1, 3]
    batch_size: int = ranged(2, why="batch norm needs 2+ images per training batch")
    eval_batch_size: int = ranged(1)
    num_workers: int = ranged(0)
    val_size: int = ranged(1, 60000, high_open=True, why="a run validates; 0 leaves it no validation images")
    split_seed: int = ranged(0)
    train_subset: int | None = ranged(1)
    val_subset: int | None = ranged(1)
    test_subset: int | None = ranged(1)
    hflip: bool


@dataclass(kw_only=True)
class ImageFolderData:
    name: Literal["imagefolder"]
    root: str
    in_chans: Literal[1, 3]
    batch_size: int = ranged(2, why="batch norm needs 2+ images per training batch")
    eval_batch_size: int = ranged(1)
    num_workers: int = ranged(0)
    train_dir: str
    val_dir: str
    test_dir: str | None


@dataclass(kw_only=True)
class Schedule:
    """§8: LR at ``reference_batch`` (scaled to the global batch), decayed by ``lr_decay_rate`` every ``epochs_per_decay``."""

    lr: float = ranged(**POSITIVE)
    reference_batch: int = ranged(1)
    momentum: float = ranged(**FRACTION)
    weight_decay: float = ranged(0)
    lr_decay_rate: float = ranged(0, 1, low_open=True)
    epochs_per_decay: float = ranged(**POSITIVE)


@dataclass(kw_only=True)
class RMSProp(Schedule):
    name: Literal["rmsprop", "rmsprop_torch"]  # TensorFlow's (the paper's) or torch's update (training/optim.py)
    decay: float = ranged(**FRACTION)
    eps: float = ranged(**POSITIVE)


@dataclass(kw_only=True)
class SGD(Schedule):
    name: Literal["sgd"]


@dataclass(kw_only=True)
class Trainer:
    max_epochs: int = ranged(1)
    accelerator: str
    devices: int | str | list
    num_nodes: int = ranged(1)
    strategy: str
    sync_batchnorm: bool
    precision: str | int
    gradient_clip_val: float | None = ranged(**POSITIVE)
    log_every_n_steps: int = ranged(1)
    deterministic: bool
    threads: int | None = ranged(1)
    channels_last: bool
    compile: bool
    limit_train_batches: float | None = ranged(**POSITIVE)
    limit_val_batches: float | None = ranged(**POSITIVE)
    limit_test_batches: float | None = ranged(**POSITIVE)
    val_check_interval: float = ranged(low=0, high=1, low_open=True, why="a fraction of an epoch between validations")
    checkpoint_every_n_steps: int | None = ranged(1)
    checkpoint_every_minutes: float | None = ranged(**POSITIVE)


@dataclass(kw_only=True)
class NoLogger:
    name: Literal["none"]


@dataclass(kw_only=True)
class WandbLogger:
    name: Literal["wandb"]
    project: str
    entity: str | None
    mode: Literal["auto", "online", "offline", "disabled", "dryrun", "run"]  # training/tracking.py MODES
    init_timeout: float = ranged(**POSITIVE)


@dataclass(kw_only=True)
class Scale:
    name: Literal["cpu", "study_gpu", "gpu", "paper"]
    seeds: int = ranged(1)
    input_sizes: dict


@dataclass(kw_only=True)
class Loss:
    label_smoothing: float = ranged(**FRACTION, why="§7: eps = 0.1")
    aux_weight: float = ranged(0)


@dataclass(kw_only=True)
class EMA:
    decay: float | None = ranged(**FRACTION, why="null turns the average off")


@dataclass(kw_only=True)
class RunConfig:
    """A composed run config (configs/train.yaml and its groups)."""

    model: InceptionConfig
    data: FashionMNISTData | ImageFolderData
    optimizer: RMSProp | SGD
    trainer: Trainer
    logger: NoLogger | WandbLogger
    scale: Scale
    loss: Loss
    ema: EMA
    ablation: str = plain_name()
    variant: str = plain_name()
    seed: int = ranged(0, MAX_SEED, why="seed_everything and numpy take 32-bit seeds")
    results_dir: str
    run_dir: str
    allow_outside_results: bool


def validate(config: Mapping[str, Any], project_root: Path) -> None:
    """Raise ``ConfigError`` on the first value the schema does not allow; then check the paths."""
    if config.get("scale", {}).get("name") == "cpu" and config.get("data", {}).get("name") == "imagefolder":
        raise ConfigError("data=imagefolder is not available at scale=cpu (it trains on Fashion-MNIST subsets); "
                          "use scale=gpu or scale=paper with data=imagefolder")
    check_group(RunConfig, config, "")
    _check_activations(InceptionConfig.from_dict(dict(config["model"])), config["data"]["batch_size"])
    if not config[ALLOW_OUTSIDE]:
        inside = (project_root / RESULTS_FOLDER).resolve()
        for key in ("results_dir", "run_dir"):
            if not Path(config[key]).resolve().is_relative_to(inside):
                raise ConfigError(
                    f"{key}={config[key]} is outside the project's results folder {inside}; choose a folder in it "
                    f"(relative paths start at the current directory), or pass {ALLOW_OUTSIDE}=true to write there"
                )


def _check_activations(model: InceptionConfig, batch_size: int) -> None:
    """Refuse a batch whose activations cannot fit in one device: at least ``model.saved_values`` a
    training image, 2 bytes each (bf16, the smallest precision a run trains in)."""
    need = model.saved_values * batch_size * 2 / 1e9
    if need > MAX_BATCH_ACTIVATIONS_GB:
        fits = math.isqrt(int(MAX_BATCH_ACTIVATIONS_GB * 1e9 / 2 / batch_size / (model.saved_values / model.pixels**2)))
        raise ConfigError(
            f"model.input_size={model.pixels}: a training batch (data.batch_size={batch_size}, model.width={model.width:g}) would "
            f"keep at least {need:,.0f} GB of activations for the backward pass, more than one device holds "
            f"({MAX_BATCH_ACTIVATIONS_GB} GB); lower model.input_size (at this batch and width up to {fits} px fit), "
            "data.batch_size or model.width"
        )
