"""What a notebook cell shows, and where it is written: Markdown prose (`Text`), a one-line `Note` in
place of a table or figure the runs cannot give yet, and tables / figures written with provenance
under `<output_dir>/tables` and `<output_dir>/figures`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..collect import complete_runs
from ..load import Study
from ..plots import Plot
from ..tables import ShownTable, write_table


@dataclass(frozen=True)
class Text:
    """Markdown a notebook shows as prose (its numbers computed, never typed)."""

    text: str

    def __repr__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return self.text


class Note(Text):
    """A one-line message a notebook shows, in bold, in place of a table or figure."""

    def _repr_markdown_(self) -> str:
        return f"**{self.text}**"


def _make_target(ablation: str) -> str:
    return f"make ablation-{ablation.replace('_', '-')}"


def missing(study: Study, ablation: str | None = None) -> Note | None:
    """A Note when the study has no complete run (of `ablation`) at its scale, else None."""
    if study.problem or study.runs.empty:
        return Note(study.status_line())
    done = complete_runs(study.runs, study.scale)
    if ablation is None or (done["ablation"] == ablation).any():
        return None
    others = study.runs.loc[study.runs["ablation"] == ablation, "status"].value_counts()
    listed = "".join(f", {n} {s}" for s, n in others.items())
    return Note(f"No complete runs for ablation '{ablation}' at scale {study.scale} yet{listed}: "
                f"`{_make_target(ablation)} SCALE={study.scale}`.")


def write(study: Study, table: pd.DataFrame, name: str) -> ShownTable:
    """Write `table` with provenance; return it for display (fixed decimals, no index, no NaN)."""
    write_table(table, name, out_dir=study.out_dir / "tables", command=study.command)
    shown = ShownTable(table)
    shown.attrs.update(table.attrs)
    return shown


def save(study: Study, plot: Plot, name: str) -> Plot:
    plot.save(name, out_dir=study.out_dir / "figures", command=study.command)
    return plot


def with_provenance(table: pd.DataFrame, study: Study, run_dirs) -> pd.DataFrame:
    table.attrs.update(scale=study.scale, run_dirs=sorted(set(run_dirs)))
    return table
