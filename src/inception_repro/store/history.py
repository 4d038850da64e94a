"""metrics.csv checked on read: a history with a cut or malformed row, or without the rows its run
must have logged, is named as broken instead of being read as if it were whole."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from inception_repro.metrics import LOSSES, TOP_K, logged_name

COLUMNS = ["step", "epoch"]
"""The first columns of every history."""
_TEST_METRICS = tuple(logged_name("test", accuracy) for accuracy in TOP_K)


class HistoryProblem(ValueError):
    """A metrics.csv that is not one; the message names the file and the line."""

    def __init__(self, path: Path, line: int | None, problem: str) -> None:
        self.where = f"{Path(path).name}, line {line}" if line else Path(path).name
        super().__init__(f"{path}, line {line}: {problem}" if line else f"{path}: {problem}")
        self.problem = problem


def parse_history(path: Path) -> tuple[list[str], list[list[float]]]:
    """metrics.csv's header and rows as numbers, NaN where a row logged nothing in a column.
    ``HistoryProblem`` for a header without ``step,epoch`` first or with a column twice, a row of more
    or fewer cells than the header, a cell that is not a number, a row without its step; OSError if
    the file cannot be opened."""
    rows: list[list[float]] = []
    with open(path, newline="") as f:
        reader = csv.reader(f)
        try:
            header = next(reader, [])
            if header[:2] != COLUMNS:
                raise HistoryProblem(path, 1, f"the header {','.join(header)[:60]!r} does not start with step,epoch")
            twice = next((c for c in header if header.count(c) > 1), None)
            if twice is not None:
                raise HistoryProblem(path, 1, f"the header names the column {twice!r} twice")
            for row in reader:
                if len(row) != len(header):
                    short = " (a row cut short?)" if len(row) < len(header) else ""
                    raise HistoryProblem(path, reader.line_num, f"{len(row)} cells where the header names {len(header)}{short}")
                rows.append([_number(path, reader.line_num, column, cell) for column, cell in zip(header, row)])
                if not rows[-1][0] >= 0 or not rows[-1][0].is_integer():
                    raise HistoryProblem(path, reader.line_num, f"step={row[0]!r} is not a step number")
        except (csv.Error, UnicodeDecodeError) as err:
            raise HistoryProblem(path, None, f"not CSV text ({err})") from None
    return header, rows


def _number(path: Path, line: int, column: str, cell: str) -> float:
    try:
        return float(cell) if cell else math.nan
    except ValueError:
        raise HistoryProblem(path, line, f"{column}={cell!r} is not a number") from None


def history_problem(path: Path, complete: bool = True, through_step: int = 0, log_every: int = 1) -> str | None:
    """Why the history at ``path`` cannot be trusted, or None. A ``complete`` run's ends with its test
    row; a run resumed from the checkpoint of step ``through_step`` has its training rows up to there
    (one every ``log_every`` steps, logged at step ``k * log_every - 1``), but for the last one:
    Lightning writes a step's row after the checkpoint of that step, so a kill in between loses it."""
    try:
        header, rows = parse_history(path)
    except FileNotFoundError:
        return "metrics.csv missing" if complete or through_step else None
    except OSError as error:
        return f"metrics.csv is unreadable ({type(error).__name__}: {error})"
    except HistoryProblem as problem:
        return f"{problem.where}: {problem.problem}"
    steps = [row[0] for row in rows]
    if steps != sorted(steps):
        return "metrics.csv has rows out of step order"
    last = dict(zip(header, rows[-1])) if rows else {}
    if complete and any(math.isnan(last.get(name, math.nan)) for name in _TEST_METRICS):
        return "metrics.csv does not end with the test row (cut short?)"
    loss = header.index(LOSSES[0]) if LOSSES[0] in header else None
    trained = max((int(row[0]) for row in rows if loss is not None and not math.isnan(row[loss])), default=-1)
    if trained < (through_step // log_every - 1) * log_every - 1:
        return f"metrics.csv stops at step {trained}, before the checkpoint's step {through_step} (cut short?)"
    return None
