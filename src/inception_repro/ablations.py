"""The paper's ablations as data: configs/ablations/<name>.yaml, each a control, its variants, the
paper's claims they test and the sections of its notebook."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from inception_repro.errors import ConfigError
from inception_repro.paths import CONFIG_DIR

DIRECTIONS = {"better": +1, "worse": -1, "same": 0}
"""A claim's `direction` in the YAML: the paper finds the variant better, worse, or no different."""


@dataclass(frozen=True)
class Claim:
    """A paper claim as a comparison of two variants of one ablation.

    `direction`: +1 the paper finds the variant better, -1 worse, 0 no difference expected.
    `paper_delta`: top-1 accuracy change (percentage points) of the variant relative to the
    control on ImageNet, None where the paper gives only a direction.
    """

    claim: str
    paper_section: str
    ablation: str
    control: str
    variant: str
    paper_delta: float | None
    direction: int
    statement: str


@dataclass(frozen=True)
class Ablation:
    """One paper idea: the variants that test it (each a list of config overrides), its control,
    its claims, and the notebook sections that show it (`notebook`, raw from the YAML)."""

    name: str
    paper_section: str
    claim: str
    control: str
    variants: dict[str, list[str]]
    claims: tuple[Claim, ...] = ()
    notebook: dict | None = None

    def overrides(self, variant: str) -> list[str]:
        if variant not in self.variants:
            raise ConfigError(
                f"unknown variant {variant!r} of ablation {self.name!r}; valid: {', '.join(self.variants)}"
            )
        return list(self.variants[variant])


def ablation_names(config_dir: Path = CONFIG_DIR) -> list[str]:
    return sorted(p.stem for p in (config_dir / "ablations").glob("*.yaml"))


def _claim(name: str, raw: dict, path: Path, variants: dict) -> Claim:
    try:
        c = Claim(str(raw["id"]), str(raw["paper_section"]), name, str(raw["control"]), str(raw["variant"]),
                  None if raw.get("paper_delta") is None else float(raw["paper_delta"]),
                  DIRECTIONS[raw["direction"]], str(raw["statement"]))
    except KeyError as err:
        raise ConfigError(f"{path}: claim {raw.get('id', '?')!r} needs {err.args[0]!r} "
                          f"(direction one of {', '.join(DIRECTIONS)})") from None
    if not {c.control, c.variant} <= set(variants):
        raise ConfigError(f"{path}: claim {c.claim!r} compares variants that are not in the file")
    return c


def load_ablation(name: str, config_dir: Path = CONFIG_DIR) -> Ablation:
    """Read one ablation file; an unknown name lists the valid ones."""
    path = config_dir / "ablations" / f"{name}.yaml"
    if name not in ablation_names(config_dir):  # a listed name, never a path
        raise ConfigError(f"unknown ablation {name!r}; valid: {', '.join(ablation_names(config_dir))}")
    raw = yaml.safe_load(path.read_text())
    variants = {str(k): [str(o) for o in (v or [])] for k, v in raw["variants"].items()}
    claims = tuple(_claim(name, c, path, variants) for c in raw.get("claims") or [])
    ablation = Ablation(raw["name"], raw["paper_section"], raw["claim"], str(raw["control"]), variants,
                        claims, raw.get("notebook"))
    if ablation.control not in variants:
        raise ConfigError(f"{path}: control {ablation.control!r} is not one of its variants")
    return ablation


def all_claims(config_dir: Path = CONFIG_DIR) -> tuple[Claim, ...]:
    """Every ablation's claims, ablations in name order, claims in file order."""
    return tuple(c for name in ablation_names(config_dir) for c in load_ablation(name, config_dir).claims)


def claim(claim_id: str, config_dir: Path = CONFIG_DIR) -> Claim:
    """The claim named `claim_id`; KeyError lists the valid ids."""
    claims = all_claims(config_dir)
    for c in claims:
        if c.claim == claim_id:
            return c
    raise KeyError(f"unknown claim {claim_id!r}; valid: {', '.join(c.claim for c in claims)}")
