"""Loading a study: the runs of ONE scale from a store (results/, the committed study, by default;
results/local for your own runs) or from W&B, with where its outputs go (`report` presents them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..provenance import project_root, relative_to_root
from .collect import COLUMNS, collect_history, collect_runs, collect_wandb, collect_wandb_history

SOURCES = ("local", "wandb")


@dataclass
class Study:
    """The runs of one scale (every status), where they came from, and where outputs go."""

    runs: pd.DataFrame
    scale: str
    source: str
    location: str
    out_dir: Path
    command: str
    problem: str | None = None
    wandb_path: tuple[str, str] | None = None
    _history: pd.DataFrame | None = field(default=None, repr=False)

    def history(self) -> pd.DataFrame:
        """Every logged metrics row of the study's runs (read once, on first use)."""
        if self._history is None:
            self._history = (collect_wandb_history(*self.wandb_path, scale=self.scale)
                             if self.source == "wandb" else collect_history(self.location, self.scale))
        return self._history

    def status_line(self) -> str:
        if self.problem:
            return self.problem
        if self.runs.empty:
            return (f"No run records at scale {self.scale} in {self.location}: run "
                    f"`make ablation-aux SCALE={self.scale}` (or `make ablations`) first.")
        counts = self.runs["status"].value_counts()
        parts = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("complete", "incomplete", "failed", "corrupt"))
        corrupt = self.runs[self.runs["status"] == "corrupt"]
        named = "" if corrupt.empty else (f" Corrupt, left out: {corrupt.iloc[0]['run_dir']} ({corrupt.iloc[0]['problem']})"
                                          + (f" and {len(corrupt) - 1} more" if len(corrupt) > 1 else "") + ".")
        return (f"{len(self.runs)} runs at scale {self.scale} from {self.location} ({self.source}): "
                f"{parts}. Statistics use complete runs only.{named}")

    def __repr__(self) -> str:
        return self.status_line()

    def _repr_markdown_(self) -> str:
        return f"**{self.status_line()}**"


def load(results_dir: str | Path = "results", source: str = "local", scale: str = "cpu",
         wandb_entity: str | None = None, wandb_project: str = "inception-repro",
         output_dir: str | Path | None = None, notebook: str = "") -> Study:
    """The runs at `scale` from `<results_dir>/runs` (a relative path is taken from the project
    root) or from W&B `wandb_entity/wandb_project`. Tables and
    figures go to `<output_dir>/tables|figures` (default: results_dir, or results/ for W&B).
    Reading problems become `Study.problem`, one line, never an exception."""
    if source not in SOURCES:
        raise ValueError(f"source={source!r}; valid: {', '.join(SOURCES)}")
    root = project_root()
    results = root / Path(results_dir)
    out_dir = root / Path(output_dir) if output_dir is not None else results
    command = f"notebooks/{notebook}.ipynb (source={source}, scale={scale})"
    study = Study(pd.DataFrame(columns=COLUMNS), scale, source, relative_to_root([results])[0], out_dir,
                  command)
    if source == "wandb":
        try:
            import wandb

            api = wandb.Api()
            study.wandb_path = (wandb_entity or api.default_entity, wandb_project)
            study.location = "/".join(study.wandb_path)
            runs = collect_wandb(*study.wandb_path, api=api)
        except Exception as err:  # no key, no network, unknown project: one line
            study.problem = f"Cannot read W&B runs: {' '.join(str(err).split())}"
            return study
        study.runs = runs[(runs["scale"] == scale) | runs["scale"].isna()].reset_index(drop=True)
    elif not results.is_dir():
        study.problem = f"No results folder at {study.location}: run an ablation first (`make ablation-aux`)."
    else:
        study.runs = collect_runs(results, scale)
    return study
