"""How the schema's declarations are checked: a number's range, a plain name, a group of keys (a
dataclass whose annotations give the types), a group chosen by name. ``schema.py`` declares; this
module checks a value against a declaration and raises one ``ConfigError`` naming the key."""

from __future__ import annotations

import math
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from inception_repro.errors import ConfigError

PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Range:
    """A number in [low, high] (an end is open when ``*_open``); NaN and infinities are never in it."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def allows(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{_bound(self.low)}, {_bound(self.high)}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {_bound(self.low)}"
        return f"{'<' if self.high_open else '<='} {_bound(self.high)}" if self.high is not None else "finite"


def _bound(value: float) -> str:
    """A range's end as written: whole numbers in full (4294967295, not 4.29497e+09)."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def ranged(low: float | None = None, high: float | None = None, *, low_open: bool = False,
           high_open: bool = False, why: str = "") -> Any:
    """A field whose number must lie in the range; ``why`` is added to the error."""
    return field(metadata={"range": Range(low, high, low_open, high_open), "why": why})


def plain_name() -> Any:
    """A field used as a folder name: letters, digits, ``.``, ``_``, ``-``; no ``/``, no ``..``."""
    return field(metadata={"plain_name": True})


def check_group(schema: type, values: Any, prefix: str) -> None:
    where = prefix.rstrip(".") or "the config"
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}={values!r}: must be a group of keys ({', '.join(f.name for f in fields(schema))})")
    declared = {f.name: f for f in fields(schema)}
    unknown = sorted(set(values) - set(declared))
    if unknown:
        chosen = f" with {prefix}name={values['name']}" if "name" in values else ""
        raise ConfigError(
            f"{prefix}{unknown[0]} is not a key of {where}{chosen}; valid keys: {', '.join(declared)}"
        )
    hints = get_type_hints(schema)
    for name, f in declared.items():
        key = f"{prefix}{name}"
        if name not in values:
            raise ConfigError(f"{key} is missing from the config")
        _check_value(key, values[name], hints[name], f.metadata)


def _members(hint: Any) -> tuple[Any, ...]:
    return get_args(hint) if get_origin(hint) in (Union, types.UnionType) else (hint,)


def _check_value(key: str, value: Any, hint: Any, meta: Mapping[str, Any]) -> None:
    members = _members(hint)
    groups = [m for m in members if is_dataclass(m)]
    if groups:
        check_group(_chosen(key, value, groups), value, f"{key}.")
        return
    if value == "???":  # a mandatory value left out: only what reads it needs it (training.builders.build_datamodule)
        return
    if value is None:
        if type(None) in members:
            return
        raise ConfigError(f"{key}=null: must be {_describe(members, meta)}")
    if not any(_is_a(value, m) for m in members):
        raise ConfigError(f"{key}={value!r}: must be {_describe(members, meta)}")
    if "range" in meta and isinstance(value, (int, float)) and not meta["range"].allows(value):
        raise ConfigError(f"{key}={value!r}: must be {_describe(members, meta)}")
    if meta.get("plain_name") and (not PLAIN_NAME.fullmatch(value) or ".." in value):
        raise ConfigError(f"{key}={value!r}: must be a plain name (letters, digits, '.', '_', '-'; no '/' or '..')")


def _chosen(key: str, value: Any, groups: list[type]) -> type:
    """The member of a union of groups whose ``name`` choice is ``value['name']``."""
    if len(groups) == 1:
        return groups[0]
    names = {name: g for g in groups for name in get_args(get_type_hints(g)["name"])}
    name = value.get("name") if isinstance(value, Mapping) else None
    if name not in names:
        raise ConfigError(f"{key}.name={name!r}: must be one of {', '.join(names)}")
    return names[name]


def _is_a(value: Any, hint: Any) -> bool:
    if get_origin(hint) is Literal:
        return value in get_args(hint) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _describe(members: tuple[Any, ...], meta: Mapping[str, Any]) -> str:
    words = {int: "an integer", float: "a finite number", str: "a string", bool: "true or false", dict: "a mapping"}
    kinds = []
    for m in members:
        if get_origin(m) is Literal:
            kinds.append("one of " + ", ".join(map(str, get_args(m))))
        elif m is not type(None):
            kinds.append(words.get(m, getattr(m, "__name__", str(m))))
    text = " or ".join(kinds)
    if "range" in meta:
        text += f" {meta['range']}"
    if type(None) in members:
        text += " (or null)"
    return text + (f" ({meta['why']})" if meta.get("why") else "")
