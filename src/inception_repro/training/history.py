"""metrics.csv: the per-step / per-epoch history of a run, written atomically on every log call."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from pytorch_lightning.loggers.logger import Logger, rank_zero_experiment
from pytorch_lightning.utilities import rank_zero_only

from inception_repro.provenance import atomic_write


class HistoryLogger(Logger):
    """A Lightning logger holding every logged row.

    With ``resuming`` the rows already in the file are kept (``ExactResume`` then drops those
    logged after the checkpoint); otherwise the run starts afresh and the file is rewritten.
    """

    def __init__(self, path: Path, resuming: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.rows: list[dict[str, Any]] = []
        if resuming and self.path.exists():
            with open(self.path, newline="") as f:
                self.rows = [{k: v for k, v in row.items() if v != ""} for row in csv.DictReader(f)]

    @property
    def name(self) -> str:
        return "history"

    @property
    def version(self) -> str:
        return ""

    @property
    @rank_zero_experiment
    def experiment(self) -> None:
        return None

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        """The resolved config is saved as config.yaml by the run, not here."""

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.rows.append({"step": step, **{k: float(v) for k, v in metrics.items()}})
        self.save()

    def keep_before(self, step: int) -> None:
        """Keep only the rows logged before ``step``: a checkpoint at global step k holds batches
        1..k, whose rows Lightning logs at steps 0..k-1; later rows are logged again on resume."""
        self.rows = [row for row in self.rows if int(float(row["step"])) < step]
        self.save()

    @rank_zero_only
    def save(self) -> None:
        columns = ["step", "epoch"]
        for row in self.rows:
            columns += [k for k in row if k not in columns]

        def write(tmp: Path) -> None:
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=columns)
                writer.writeheader()
                writer.writerows(self.rows)

        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, write)
