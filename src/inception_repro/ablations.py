"""The paper's ablations as data: configs/ablations/<name>.yaml, each a control and its variants."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from inception_repro.errors import ConfigError
from inception_repro.paths import CONFIG_DIR


@dataclass(frozen=True)
class Ablation:
    """One paper claim: the variants that test it (each a list of config overrides) and its control."""

    name: str
    paper_section: str
    claim: str
    control: str
    variants: dict[str, list[str]]

    def overrides(self, variant: str) -> list[str]:
        if variant not in self.variants:
            raise ConfigError(
                f"unknown variant {variant!r} of ablation {self.name!r}; valid: {', '.join(self.variants)}"
            )
        return list(self.variants[variant])


def ablation_names(config_dir: Path = CONFIG_DIR) -> list[str]:
    return sorted(p.stem for p in (config_dir / "ablations").glob("*.yaml"))


def load_ablation(name: str, config_dir: Path = CONFIG_DIR) -> Ablation:
    """Read one ablation file; an unknown name lists the valid ones."""
    path = config_dir / "ablations" / f"{name}.yaml"
    if name not in ablation_names(config_dir):  # a listed name, never a path
        raise ConfigError(f"unknown ablation {name!r}; valid: {', '.join(ablation_names(config_dir))}")
    raw = yaml.safe_load(path.read_text())
    variants = {str(k): [str(o) for o in (v or [])] for k, v in raw["variants"].items()}
    ablation = Ablation(raw["name"], raw["paper_section"], raw["claim"], str(raw["control"]), variants)
    if ablation.control not in variants:
        raise ConfigError(f"{path}: control {ablation.control!r} is not one of its variants")
    return ablation
