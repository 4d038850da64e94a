"""Run records -> one tidy table.

Reads a store's records through `inception_repro.store` (layout and summary schema live there) or
the W&B public API. Nothing is dropped silently: a folder whose record cannot be trusted becomes a
row with `status == "corrupt"` and a `problem` saying why. Statistics use only `status == "complete"`.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..metrics import STEP
from ..store import RunRecordError
from ..store.history import HistoryProblem, parse_history
from ..store.records import RunRecord, read_records
from ..store.summary import NUMERIC_KEYS, STATUSES as RUN_STATUSES, SUMMARY_KEYS, summary_problem

STATUSES = (*RUN_STATUSES, "corrupt")
COLUMNS = (*SUMMARY_KEYS, "run_dir", "problem")
_WANDB_STATE = {"finished": "complete", "running": "incomplete", "pending": "incomplete",
                "preempted": "incomplete", "crashed": "failed", "failed": "failed",
                "killed": "failed"}


def _row(summary: Any, run_dir: str, problem: str | None, expected: dict[str, Any] | None = None) -> dict[str, Any]:
    row = dict(summary) if isinstance(summary, dict) else {}
    if problem is not None:
        row.update(expected or {}, status="corrupt")
    return {**row, "run_dir": run_dir, "problem": problem}


def _input_size(config: Any) -> int | None:
    """Pixels the run's network was fed (its config's `model.input_size`), None if not recorded."""
    model = config.get("model") if isinstance(config, dict) else None
    return model.get("input_size") if isinstance(model, dict) else None


def _record_row(record: RunRecord) -> dict[str, Any]:
    try:
        config = yaml.safe_load(record.folder.config.read_text())
    except (OSError, yaml.YAMLError):
        config = None
    return {**_row(record.summary, str(record.root), record.problem, record.identity),
            "input_size": _input_size(config)}


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    extra = sorted({k for r in rows for k in r} - set(COLUMNS))
    df = pd.DataFrame(rows, columns=[*COLUMNS, *extra])
    for key in ("seed", "input_size"):
        if key in df:
            df[key] = pd.to_numeric(df[key], errors="coerce").astype("Int64")
    for key in NUMERIC_KEYS:
        df[key] = pd.to_numeric(df[key], errors="coerce").astype("float64")
    return df


def collect_runs(results_dir: str | Path, scale: str | None = None) -> pd.DataFrame:
    """One row per run folder of the store `results_dir`: the summary.json keys + `run_dir` + `problem`.

    Unreadable or inconsistent records are rows with `status="corrupt"` (identity taken from the
    folder path). With `scale`, only that scale's folders are read.
    """
    return _frame([_record_row(r) for r in read_records(results_dir, scale)])


"""The columns every metrics.csv starts with (training/history.py), before the metrics logged."""


def read_history(path: Path) -> pd.DataFrame:
    """A run's metrics.csv as numbers: a row per logged step, NaN where the row logged no value. A
    malformed file (``store.history.parse_history``) is a ``RunRecordError`` naming the file and
    line; OSError if it cannot be opened."""
    try:
        header, rows = parse_history(path)
    except HistoryProblem as problem:
        raise RunRecordError(f"{problem}; restore that file (git checkout, in the committed study) or "
                             "delete its run folder to train the run again") from None
    return pd.DataFrame(rows, columns=header, dtype="float64").astype({"step": "int64"})


def collect_history(results_dir: str | Path, scale: str | None = None) -> pd.DataFrame:
    """Every logged row of every non-corrupt run's metrics.csv, kept wide.

    Columns: ablation, variant, seed, scale, status, run_dir, then the CSV's own columns (`step`,
    `epoch`, `train/loss`, `val/top1`, ...; sparse, NaN where a row did not log a metric). Runs
    whose metrics.csv is missing or cannot be opened are named in a warning; a malformed one is a
    ``RunRecordError`` naming its line (``read_history``).
    """
    runs = collect_runs(results_dir, scale)
    runs = runs[runs["status"] != "corrupt"]
    ids = ["ablation", "variant", "seed", "scale", "status", "run_dir"]
    parts, unreadable = [], []
    for run in runs[ids].itertuples(index=False):
        try:
            part = read_history(Path(run.run_dir) / "metrics.csv")
        except OSError as err:
            unreadable.append(f"{run.run_dir} ({type(err).__name__})")
            continue
        parts.append(part.assign(**run._asdict())[ids + list(part.columns)])
    if unreadable:
        warnings.warn(f"no readable metrics.csv in: {'; '.join(unreadable)}", stacklevel=2)
    if not parts:
        return pd.DataFrame(columns=ids)
    return pd.concat(parts, ignore_index=True)


def _wandb_record(run: Any) -> dict[str, Any]:
    tags = dict(re.split(r"[:=]", t, maxsplit=1) for t in (run.tags or []) if re.search(r"[:=]", t))
    config = {k: (v.get("name") if isinstance(v, dict) else v) for k, v in dict(run.config).items()}
    summary = {k.replace("/", "_"): v for k, v in dict(run.summary.items()).items()}
    record = {k: v for k, v in tags.items() if k in SUMMARY_KEYS}
    record.update({k: v for k, v in config.items() if k in SUMMARY_KEYS})
    record.update({k: v for k, v in summary.items() if k in SUMMARY_KEYS})
    if isinstance(record.get("seed"), str) and record["seed"].isdigit():
        record["seed"] = int(record["seed"])
    record.setdefault("status", _WANDB_STATE.get(getattr(run, "state", None)))
    return record


def _wandb_api(api: Any) -> Any:
    if api is not None:
        return api
    import wandb

    return wandb.Api()


def _wandb_error(err: Exception, what: str) -> RuntimeError:
    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return RuntimeError(f"cannot read {what}: {type(err).__name__}: {first}")


def _wandb_rows(runs: list[Any], path: str) -> list[dict[str, Any]]:
    rows = []
    for run in runs:
        record = _wandb_record(run)
        rows.append({**_row(record, str(getattr(run, "url", None) or f"wandb:{path}/{run.id}"), summary_problem(record)),
                     "input_size": _input_size(dict(run.config))})
    return rows


def collect_wandb(entity: str, project: str, api: Any = None) -> pd.DataFrame:
    """The `collect_runs` table built from W&B runs of `entity/project`.

    Fields come from run.summary (keys as in summary.json; `val/top1` is read as `val_top1`), then
    run.config, then `key:value` tags. Without a `status` field the W&B state is mapped
    (finished -> complete, running -> incomplete, crashed/failed/killed -> failed). `run_dir` is
    the run's URL. Any W&B error becomes a one-line RuntimeError.
    """
    path = f"{entity}/{project}"
    try:
        rows = _wandb_rows(list(_wandb_api(api).runs(path)), path)
    except Exception as err:  # the W&B client raises many types (network, auth, HTTP)
        raise _wandb_error(err, f"W&B runs of {path}") from err
    return _frame(rows)


def collect_wandb_history(entity: str, project: str, scale: str | None = None,
                          api: Any = None) -> pd.DataFrame:
    """The `collect_history` table built from W&B: every logged row of every non-corrupt run.

    Lightning logs the training step as `trainer/global_step`; it becomes `step` (as in
    metrics.csv). W&B errors become a one-line RuntimeError, as in `collect_wandb`.
    """
    path = f"{entity}/{project}"
    ids = ["ablation", "variant", "seed", "scale", "status", "run_dir"]
    try:
        runs = list(_wandb_api(api).runs(path))
        parts = []
        for run, row in zip(runs, _wandb_rows(runs, path)):
            if row["problem"] is not None or (scale is not None and row.get("scale") != scale):
                continue
            part = pd.DataFrame(list(run.scan_history()))
            if "step" not in part and STEP in part:
                part = part.rename(columns={STEP: "step"})
            parts.append(part.assign(**{k: row.get(k) for k in ids})[ids + list(part.columns)])
    except Exception as err:  # the W&B client raises many types (network, auth, HTTP)
        raise _wandb_error(err, f"W&B history of {path}") from err
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=ids)


def run_status_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Runs per ablation/variant and status: columns ablation, variant, complete, incomplete,
    failed, corrupt, total (rows with unknown ablation/variant are kept, as NaN)."""
    if df.empty:
        return pd.DataFrame(columns=["ablation", "variant", *STATUSES, "total"])
    counts = (
        df.groupby(["ablation", "variant", "status"], dropna=False).size()
        .unstack("status", fill_value=0)
        .reindex(columns=list(STATUSES), fill_value=0)
    )
    counts.columns.name = None
    counts["total"] = counts.sum(axis=1)
    return counts.reset_index()


def complete_runs(df: pd.DataFrame, scale: str | None = None) -> pd.DataFrame:
    """Only the `status == "complete"` rows (optionally of one `scale`): what statistics may use."""
    keep = df["status"] == "complete"
    if scale is not None:
        keep &= df["scale"] == scale
    return df[keep].reset_index(drop=True)
