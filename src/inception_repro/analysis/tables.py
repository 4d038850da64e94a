"""Result tables as CSV + Markdown + provenance (.meta.json: the runs, commit, command, scale and date)."""

from __future__ import annotations

from numbers import Integral, Real
from pathlib import Path
from typing import Any

import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype, is_scalar

from ..provenance import project_root, relative_to_root, write_with_provenance


COLUMN_FORMATS = {"p_value": ".3f", "holm_p": ".3f", "cpu_hours_to_resolve": ".1f"}
"""Columns shown with other than the default two decimals."""


def _cell(value: Any, floatfmt: str) -> str:
    if is_scalar(value) and pd.isna(value):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Integral):
        return str(value)
    if isinstance(value, Real):
        text = format(value, floatfmt)
        return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.00"
    return str(value).replace("|", r"\|").replace("\n", " ")


def markdown_table(df: pd.DataFrame, floatfmt: str = ".2f") -> str:
    """A GitHub-flavoured Markdown table of `df` (no index); numbers right-aligned with fixed
    decimals (`floatfmt`, or COLUMN_FORMATS), NaN and <NA> empty."""
    header = [_cell(c, floatfmt) for c in df.columns]
    align = ["---:" if is_numeric_dtype(df[c]) and not is_bool_dtype(df[c]) else "---" for c in df.columns]
    formats = [COLUMN_FORMATS.get(c, floatfmt) for c in df.columns]
    body = [[_cell(v, f) for v, f in zip(row, formats)] for row in df.itertuples(index=False)]
    return "".join("| " + " | ".join(cells) + " |\n" for cells in [header, align, *body])


class ShownTable(pd.DataFrame):
    """A DataFrame that notebooks display as `markdown_table` (fixed decimals, no index, empty
    cells for NaN); anything derived from it is a plain DataFrame again."""

    @property
    def _constructor(self):
        return pd.DataFrame

    def __repr__(self) -> str:
        return markdown_table(self)

    def _repr_html_(self) -> None:
        return None

    def _repr_markdown_(self) -> str:
        return markdown_table(self)


def write_table(df: pd.DataFrame, name: str, *, scale: str | None = None,
                run_dirs: list[str] | None = None, out_dir: str | Path | None = None,
                command: str | None = None, floatfmt: str = ".2f") -> dict[str, Path]:
    """Write `<name>.csv`, `<name>.md` and `<name>.meta.json` to `out_dir` (default
    results/tables/). `scale` and `run_dirs` default to `df.attrs` (set by the stats functions).
    Returns the written paths keyed by suffix."""
    scale = scale if scale is not None else df.attrs.get("scale")
    run_dirs = run_dirs if run_dirs is not None else df.attrs.get("run_dirs")
    if scale is None or run_dirs is None:
        raise ValueError(f"table {name!r}: pass scale= and run_dirs= (the provenance of its rows)")
    out = Path(out_dir) if out_dir is not None else project_root() / "results" / "tables"
    text = markdown_table(df, floatfmt)
    writers = {
        ".csv": lambda p: df.to_csv(p, index=False),
        ".md": lambda p: p.write_text(text, encoding="utf-8"),
    }
    return write_with_provenance(out, name, writers, command=command, scale=scale,
                                 run_dirs=relative_to_root(run_dirs))
