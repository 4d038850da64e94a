"""summary.json, a run's record: ``Summary`` is the one declaration of what it holds.

Training writes a ``Summary``; every reader (resume, grid, comparison, analysis, W&B push) checks a
record through ``Summary.from_dict``, so a hand-edited or truncated record is named as broken in one
line instead of being read as if it were right.
"""

from __future__ import annotations

import json
import math
import typing
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from inception_repro.metrics import RAW, SUMMARY_METRICS

STATUSES = ("complete", "incomplete", "failed")
REQUIRED_METRICS = tuple(k for k in SUMMARY_METRICS if not k.endswith(RAW))
"""What a complete run's summary must hold: top-1 and top-5 on both splits (EMA weights when EMA is on)."""
IDENTITY_KEYS = ("scale", "ablation", "variant", "seed")


class SummaryProblem(ValueError):
    """Why a summary cannot be trusted (the message is the reason, without the file's name)."""


@dataclass(kw_only=True)
class Summary:
    """A run's record. ``metrics`` holds the accuracies (``inception_repro.metrics.SUMMARY_METRICS``),
    all of them once the run is complete; in summary.json they sit beside the other fields."""

    status: str
    ablation: str
    variant: str
    seed: int
    scale: str | None = None
    config_hash: str | None = None  # store/identity.py: what can change the result
    # Provenance: the code, the software and the machine of the run's first session (``*_resumed``:
    # a later session's, when it differed).
    git_commit: str | None = None
    git_dirty: bool | None = None
    torch_version: str | None = None
    platform: str | None = None
    cpu: str | None = None
    cpu_resumed: str | None = None
    num_threads: int | None = None
    num_threads_resumed: int | None = None
    device: str | None = None
    world_size: int | None = None
    started_at: str | None = None
    finished_at: str | None = None
    force_token: str | None = None  # the forced grid that restarted it (ablate --force)
    shared_from: str | None = None  # <ablation>/<variant>/seed<k> that trained this config
    failure: str | None = None
    # The network's costs (models/costs.py) and the run's progress.
    params: int | None = None
    macs: int | None = None
    grid_sizes: list[int] | None = None
    epochs: int | None = None
    global_step: int | None = None
    wall_time_s: float | None = None
    train_images_per_s: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # keys a reader met that no run writes (a note), kept

    def to_dict(self) -> dict[str, Any]:
        """summary.json's object: the fields that are set, the metrics and extra keys beside them."""
        data = {k: v for k, v in asdict(self).items() if v is not None and k not in ("metrics", "extra")}
        return {**self.extra, **data, **self.metrics}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str) + "\n"

    @property
    def identity(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in IDENTITY_KEYS}

    def updated(self, **changes: Any) -> Summary:
        return replace(self, **changes)

    @classmethod
    def from_dict(cls, data: Any, expected: dict[str, Any] | None = None) -> Summary:
        """The summary ``data`` holds; ``SummaryProblem`` if it does not follow the declaration.
        ``expected``: the identity its folder implies."""
        if not isinstance(data, dict):
            raise SummaryProblem("summary.json is not a JSON object")
        missing = [k for k in ("ablation", "variant", "seed") if data.get(k) in (None, "")]
        if missing:
            raise SummaryProblem(f"summary lacks {', '.join(missing)}")
        if not _has_type(data["seed"], int):
            raise SummaryProblem(f"seed {data['seed']!r} is not an integer")
        for key, value in data.items():
            if key in _HINTS and value is not None and not _has_type(value, _HINTS[key]):
                raise SummaryProblem(f"{key}={value!r} is not {_TYPE_NAMES.get(_HINTS[key], 'of its type')}")
        for key, value in (expected or {}).items():
            if data.get(key) != value:
                raise SummaryProblem(f"summary says {key}={data.get(key)!r} but the folder says {value!r}")
        if data.get("status") not in STATUSES:
            raise SummaryProblem(f"status {data.get('status')!r} is not one of {', '.join(STATUSES)}")
        metrics = {k: data[k] for k in SUMMARY_METRICS if k in data}
        for key in [*metrics, *(k for k in REQUIRED_METRICS if k not in metrics and data["status"] == "complete")]:
            value = metrics.get(key)
            if not _has_type(value, float) or not math.isfinite(value) or not 0.0 <= value <= 1.0:
                raise SummaryProblem(f"{data['status']} run has {key}={value!r}, not a fraction in [0, 1]")
        if data["status"] == "complete" and not data.get("scale"):
            raise SummaryProblem(f"complete run has scale={data.get('scale')!r}, not a name")
        fields = {k: v for k, v in data.items() if k in _HINTS}
        return cls(**fields, metrics=metrics, extra={k: v for k, v in data.items() if k not in SUMMARY_KEYS})


_HINTS = {k: v for k, v in typing.get_type_hints(Summary).items() if k not in ("metrics", "extra")}
SUMMARY_KEYS = (*_HINTS, *SUMMARY_METRICS)
"""Every key summary.json may hold."""
NUMERIC_KEYS = (*(k for k, hint in _HINTS.items() if hint in (int | None, float | None) and k != "seed"), *SUMMARY_METRICS)
_TYPE_NAMES = {str: "a string", int: "a number", str | None: "a string", int | None: "a number",
               float | None: "a number", bool | None: "true or false", list[int] | None: "a list of integers"}


def _has_type(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a field's annotation: any number for a count or a float (the seed is
    checked as an integer on its own), never a bool."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, type(int | None)) else (hint,)
    for option in options:
        if option is type(None) and value is None:
            return True
        if option is bool and isinstance(value, bool):
            return True
        if isinstance(value, bool):
            continue
        if option in (int, float) and isinstance(value, (int, float)) or option is str and isinstance(value, str):
            return True
        if typing.get_origin(option) is list and isinstance(value, list) and all(_has_type(v, int) for v in value):
            return True
    return False


def read_json(path: Path) -> tuple[Any, str | None]:
    """summary.json's raw content, or None and why it cannot be read as JSON."""
    if not path.is_file():
        return None, "summary.json missing"
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except json.JSONDecodeError as err:
        return None, f"summary.json is not valid JSON ({err})"
    except (OSError, UnicodeDecodeError) as err:
        return None, f"summary.json is unreadable ({type(err).__name__}: {err})"


def load_summary(path: Path, expected: dict[str, Any] | None = None) -> tuple[Any, str | None]:
    """summary.json's raw content and why it cannot be trusted (None if it can)."""
    data, problem = read_json(path)
    return data, problem or summary_problem(data, expected)


def summary_problem(data: Any, expected: dict[str, Any] | None = None) -> str | None:
    """Why ``data`` is not a trustworthy summary, or None."""
    try:
        Summary.from_dict(data, expected)
    except SummaryProblem as problem:
        return str(problem)
    return None
