"""Compose one run's config with Hydra: defaults, the scale, the ablation variant, the user's overrides."""

from __future__ import annotations

import re

import yaml
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from inception_repro.ablations import load_ablation
from inception_repro.errors import ConfigError
from inception_repro.paths import CONFIG_DIR
from inception_repro.provenance import project_root
from inception_repro.schema import validate

SCALES = ("cpu", "study_gpu", "gpu", "paper")
ADHOC = "adhoc"


def default_scale() -> str:
    """``gpu`` when a CUDA device is visible, else ``cpu``."""
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu"


def _one_line(error: Exception) -> str:
    text = " ".join(str(error).split())
    text = re.sub(r"\s*Config search path:.*$", "", text)
    return re.sub(r"\s*Set the environment variable HYDRA_FULL_ERROR=1.*$", "", text)


def _compose(overrides: list[str]) -> DictConfig:
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            return compose("train", overrides=overrides)
    except (HydraException, OmegaConfBaseException, ValueError) as error:  # ValueError: e.g. an override "=0.5"
        raise ConfigError(f"bad config override: {_one_line(error)}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"a config file under {CONFIG_DIR} is not valid YAML: {_one_line(error)}") from None


def _key_of(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def compose_run(overrides: list[str] | None = None) -> DictConfig:
    """The fully resolved config of one run.

    Order of precedence (last wins): config defaults, the scale (``scale=cpu|gpu|paper``, default
    by hardware), the overrides of ``ablation``/``variant`` from configs/ablations, the user's.
    """
    overrides = list(overrides or [])
    if not any(_key_of(o) == "scale" for o in overrides):
        overrides.insert(0, f"scale={default_scale()}")
    scale = next(o.split("=", 1)[1] for o in overrides if _key_of(o) == "scale")
    if scale not in SCALES:
        raise ConfigError(f"unknown scale {scale!r}; valid: {', '.join(SCALES)}")
    first = _compose(overrides)
    variant_overrides: list[str] = []
    if first.ablation != ADHOC:
        variant_overrides = load_ablation(first.ablation).overrides(str(first.variant))
    cfg = _compose(variant_overrides + overrides) if variant_overrides else first
    cfg.variant = str(cfg.variant)  # variant names are strings everywhere, "79" included
    if cfg.model.input_size is None:
        stem = "light" if cfg.model.stem == "light" else str(cfg.model.resolution)
        cfg.model.input_size = cfg.scale.input_sizes.get(stem)
    try:
        OmegaConf.resolve(cfg)
    except OmegaConfBaseException as error:
        raise ConfigError(f"bad config value: {_one_line(error)}") from None
    validate(OmegaConf.to_container(cfg), project_root())  # every value, before anything is written
    return cfg
