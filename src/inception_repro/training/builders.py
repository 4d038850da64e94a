"""Data, network and LightningModule of a run, built from its composed config in one place.

``train``, ``ablate`` (through ``train``) and the benches all build here; the network is built once
and handed to the module, which takes plain arguments and knows nothing of the config.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf

from inception_repro.data import FashionMNISTDataModule, ImageFolderDataModule
from inception_repro.errors import ConfigError
from inception_repro.models import InceptionConfig, InceptionV3
from inception_repro.training.module import InceptionLitModule

DATAMODULES = {"fashion_mnist": FashionMNISTDataModule, "imagefolder": ImageFolderDataModule}


def build_datamodule(cfg: DictConfig) -> pl.LightningDataModule:
    """The ``data`` group's data module at the network's input size; ``seed`` seeds its training order."""
    data: dict[str, Any] = OmegaConf.to_container(cfg.data)
    name = data.pop("name")
    if name not in DATAMODULES:
        raise ConfigError(f"unknown data {name!r}; valid: {', '.join(DATAMODULES)}")
    missing = [key for key, value in data.items() if value == "???"]
    if missing:
        raise ConfigError(f"data.{missing[0]} is required for data={name}: pass data.{missing[0]}=<value>")
    return DATAMODULES[name](input_size=int(cfg.model.input_size), seed=int(cfg.seed), **data)


def network_config(cfg: DictConfig, num_classes: int) -> InceptionConfig:
    """The network's config: the ``model`` group with the dataset's classes and channels."""
    model = OmegaConf.to_container(cfg.model)
    return InceptionConfig.from_dict({**model, "num_classes": num_classes, "in_chans": cfg.data.in_chans})


def build_network(cfg: DictConfig, num_classes: int) -> InceptionV3:
    """The run's Inception-v3 (weights drawn from torch's global generator)."""
    return InceptionV3(network_config(cfg, num_classes))


def build_module(cfg: DictConfig, network: InceptionV3) -> InceptionLitModule:
    """The §8 recipe around ``network``, in the run's precision (``64-true``: float64) and compiled
    when ``trainer.compile``."""
    module = InceptionLitModule(
        network,
        optimizer=OmegaConf.to_container(cfg.optimizer),
        batch_size=int(cfg.data.batch_size),
        label_smoothing=float(cfg.loss.label_smoothing),
        aux_weight=float(cfg.loss.aux_weight),
        ema_decay=cfg.ema.decay,
        channels_last=bool(cfg.trainer.channels_last),
    )
    if str(cfg.trainer.precision).startswith("64"):
        # Lightning loads a resumed checkpoint before it converts the module: a float32 module would
        # round the float64 weights it restores.
        module.double()
    if cfg.trainer.compile:
        module.model.compile()
    return module
