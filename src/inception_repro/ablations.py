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


TEXT = ((str,), "a string")
NAME = ((str, int), "a name")  # YAML reads a variant named 299 as a number
NUMBER = ((int, float, type(None)), "a number or empty")
FILE_KEYS = {"name": TEXT, "paper_section": TEXT, "claim": TEXT, "control": NAME, "variants": ((dict,), "a mapping"),
        "claims": ((list, type(None)), "a list"), "notebook": ((dict, type(None)), "a mapping")}
"""The keys of an ablation file, their YAML types and how to say them; all but ``claims`` and ``notebook`` are required."""
CLAIM_KEYS = {"id": TEXT, "paper_section": TEXT, "control": NAME, "variant": NAME, "paper_delta": NUMBER,
              "direction": TEXT, "statement": TEXT}
"""The keys of one claim; all but ``paper_delta`` are required."""
OPTIONAL = ("claims", "notebook", "paper_delta")


def _kind(value: object) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "empty"}.get(type(value), type(value).__name__)


def _checked(raw: object, keys: dict, path: Path, what: str) -> dict:
    """``raw`` as a mapping holding every required key of ``keys``, no other, each of its type."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: {what} must be a mapping with the keys {', '.join(keys)}, not {_kind(raw)}")
    unknown = sorted(str(k) for k in raw if k not in keys)
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]!r} is not a key of {what}; valid keys: {', '.join(keys)}")
    missing = [k for k in keys if k not in raw and k not in OPTIONAL]
    if missing:
        raise ConfigError(f"{path}: {what} lacks {missing[0]!r} (required: "
                          f"{', '.join(k for k in keys if k not in OPTIONAL)})")
    for key, value in raw.items():
        types, words = keys[key]
        if isinstance(value, bool) or not isinstance(value, types):
            shown = "" if isinstance(value, (dict, list, type(None))) else f" {value!r:.40}"
            raise ConfigError(f"{path}: {key} of {what} must be {words}, not {_kind(value)}{shown}")
    return raw


def _variants(raw: dict, path: Path) -> dict[str, list[str]]:
    """Each variant's name and its config overrides, a list of ``key=value`` strings (empty: the defaults)."""
    variants = {}
    for name, overrides in raw.items():
        overrides = [] if overrides is None else overrides
        if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
            raise ConfigError(f"{path}: variant {str(name)!r} must be a list of config overrides "
                              f"such as [model.aux=bn], not {overrides!r:.60}")
        variants[str(name)] = list(overrides)
    return variants


def _claim(name: str, raw: object, path: Path, variants: dict) -> Claim:
    raw = _checked(raw, CLAIM_KEYS, path, f"claim {raw.get('id')!r}" if isinstance(raw, dict) else "each claim")
    if raw["direction"] not in DIRECTIONS:
        raise ConfigError(f"{path}: claim {raw['id']!r} has direction {raw['direction']!r}; "
                          f"it must be one of {', '.join(DIRECTIONS)}")
    c = Claim(raw["id"], raw["paper_section"], name, str(raw["control"]), str(raw["variant"]),
              None if raw.get("paper_delta") is None else float(raw["paper_delta"]),
              DIRECTIONS[raw["direction"]], raw["statement"])
    if not {c.control, c.variant} <= set(variants):
        raise ConfigError(f"{path}: claim {c.claim!r} compares variants that are not in the file")
    return c


def load_ablation(name: str, config_dir: Path = CONFIG_DIR) -> Ablation:
    """Read one ablation file; an unknown name lists the valid ones, a malformed file is one line naming it."""
    path = config_dir / "ablations" / f"{name}.yaml"
    if name not in ablation_names(config_dir):  # a listed name, never a path
        raise ConfigError(f"unknown ablation {name!r}; valid: {', '.join(ablation_names(config_dir))}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path} is not valid YAML{where} ({getattr(err, 'problem', None) or err}); fix that line") from None
    except (OSError, UnicodeDecodeError) as err:  # e.g. a folder of that name
        raise ConfigError(f"{path} cannot be read ({type(err).__name__}: {getattr(err, 'strerror', None) or err})") from None
    raw = _checked(raw, FILE_KEYS, path, "an ablation file")
    if raw["name"] != name:
        raise ConfigError(f"{path}: name {raw['name']!r} is not the file's name {name!r}; make them the same")
    variants = _variants(raw["variants"], path)
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
