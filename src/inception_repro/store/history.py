"""metrics.csv checked on read: a history with a cut or malformed row, or without the rows its run
must have logged, is named as broken instead of being read as if it were whole."""

from __future__ import annotations

import csv
from pathlib import Path

from inception_repro.metrics import LOSSES, TOP_K, logged_name

_TEST_METRICS = tuple(logged_name("test", accuracy) for accuracy in TOP_K)


def history_problem(path: Path, complete: bool = True, through_step: int = 0, log_every: int = 1) -> str | None:
    """Why the history at ``path`` cannot be trusted, or None. A ``complete`` run's ends with its test
    row; a run resumed from the checkpoint of step ``through_step`` has its training rows up to there
    (one every ``log_every`` steps, logged at step ``k * log_every - 1``)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        return "metrics.csv missing" if complete or through_step else None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        return f"metrics.csv is unreadable ({type(error).__name__}: {error})"
    if not rows or rows[0][:2] != ["step", "epoch"]:
        return "metrics.csv has no step,epoch header"
    header, body = rows[0], rows[1:]
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            return f"metrics.csv line {line} has {len(row)} fields, not {len(header)} (cut short?)"
        if (bad := next((c for c in row if c != "" and not _is_number(c)), None)) is not None:
            return f"metrics.csv line {line} has {bad!r}, not a number"
        if not row[0].isdigit() or (line > 2 and int(row[0]) < int(body[line - 3][0])):
            return f"metrics.csv line {line} has step {row[0]!r}, not a step at or after the previous row's"
    last = dict(zip(header, body[-1])) if body else {}
    if complete and any(last.get(name, "") == "" for name in _TEST_METRICS):
        return "metrics.csv does not end with the test row (cut short?)"
    loss = header.index(LOSSES[0]) if LOSSES[0] in header else None
    trained = max((int(row[0]) for row in body if loss is not None and row[loss] != ""), default=-1)
    expected = (through_step // log_every) * log_every - 1
    if trained < expected:
        return f"metrics.csv stops at step {trained}, before the checkpoint's step {through_step} (cut short?)"
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
