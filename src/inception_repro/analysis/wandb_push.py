"""``make wandb-push``: the committed run records become W&B runs, without retraining.

One W&B run per complete record: config.yaml is its config, each metrics.csv row a history row
(the step as ``trainer/global_step``, as the trainer logs it) and summary.json its summary. The id
is the trainer's, ``<scale>-<ablation>-<variant>-seed<k>``, so the study and a retrained run of the
same config are the same W&B run. The record's fingerprint (sha256 of its three files) goes into
the summary: a run W&B (online) or the offline folder already holds with that fingerprint is
skipped, so pushing twice changes nothing; one that holds another version is named, not
overwritten. The mode is chosen as for training (training/tracking.py): online with credentials,
else offline runs under ``--dir`` that ``make wandb-sync`` (``wandb sync``) uploads.

``python -m inception_repro.analysis.wandb_push [--runs results/runs] [--scale S] [--mode M] [ablation ...]``
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf

from ..cli import ArgumentParser, run_cli
from ..errors import UserError
from ..paths import CONFIG_DIR
from ..metrics import STEP
from ..store import RunRecordError, read_record
from ..store.records import run_dirs
from ..training.tracking import MODES, resolve_mode, server_url, wandb_group, wandb_run_id
from .collect import read_history

FINGERPRINT = "record_sha256"
RECORD_FILES = ("config.yaml", "metrics.csv", "summary.json")


class PushError(UserError):
    """W&B refused or could not be reached; the message says which run and why."""


@dataclass(frozen=True)
class Record:
    """One run folder: config.yaml, metrics.csv, summary.json."""

    root: Path

    @cached_property
    def summary(self) -> dict[str, Any]:
        """summary.json, checked as the analysis checks it (``store.read_record``); a broken one names the file."""
        record = read_record(self.root)
        if record.problem and record.problem_file == "metrics.csv":  # the problem names the file and line
            raise UserError(f"{self.root / record.problem}; fix or remove that record; nothing was pushed")
        if record.problem:
            raise UserError(f"{self.root / 'summary.json'} is a broken record ({record.problem}); fix or remove "
                            "that record; nothing was pushed")
        return record.summary

    @property
    def run_id(self) -> str:
        s = self.summary
        return wandb_run_id(s["scale"], s["ablation"], str(s["variant"]), int(s["seed"]))

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for name in RECORD_FILES:
            digest.update((self.root / name).read_bytes())
        return digest.hexdigest()

    @cached_property
    def config(self) -> dict[str, Any]:
        path = self.root / "config.yaml"
        try:
            config = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as error:
            raise UserError(f"{path} is unreadable ({_one_line(error)}); fix or remove that record; nothing was pushed") from None
        if not isinstance(config, dict):
            raise UserError(f"{path} is not a run's config (not a mapping); fix or remove that record; nothing was pushed")
        return config

    @cached_property
    def history(self) -> list[dict[str, float]]:
        """metrics.csv rows without their empty cells; ``step`` becomes ``trainer/global_step``."""
        path = self.root / "metrics.csv"
        try:
            rows = read_history(path).to_dict("records")
        except OSError as error:
            raise UserError(f"{path} is unreadable ({_one_line(error)}); fix or remove that record; nothing was pushed") from None
        except RunRecordError as error:  # a malformed file, named with its line
            raise UserError(f"{error}; nothing was pushed") from None
        return [{(STEP if k == "step" else k): v for k, v in row.items() if not math.isnan(v)}
                for row in rows]

    def check(self) -> None:
        """Read the whole record (each part once, kept): a broken file is a ``UserError`` naming it."""
        _ = self.summary, self.config, self.history


def read_records(runs_root: Path, scale: str | None = None) -> list[Record]:
    """Every run folder of the store whose ``runs/`` folder is ``runs_root`` (store/records.py's layout)."""
    return [Record(path) for path in run_dirs(runs_root.parent, scale)]


def default_project() -> str:
    """The W&B project of configs/logger/wandb.yaml (``WANDB_PROJECT`` replaces it)."""
    return OmegaConf.load(CONFIG_DIR / "logger" / "wandb.yaml").project


def offline_runs(out_dir: Path, run_id: str) -> list[Path]:
    """The offline-run folders of ``run_id`` in ``out_dir`` (``offline-run-<date>_<time>-<id>``)."""
    return sorted(p for p in (out_dir / "wandb").glob(f"offline-run-*-{run_id}") if p.name.split("-", 3)[-1] == run_id)


def offline_fingerprint(out_dir: Path, run_id: str) -> str:
    """The fingerprint of the offline run ``run_id`` pushed earlier into ``out_dir``, or ``""``.
    A folder without one is a push that was interrupted: it is removed, to be written again."""
    for run in offline_runs(out_dir, run_id):
        if (run / FINGERPRINT).exists():
            return (run / FINGERPRINT).read_text().strip()
        shutil.rmtree(run)
    return ""


def online_fingerprint(api: Any, path: str) -> str | None:
    """``""`` if W&B has no run at ``entity/project/id``, else the fingerprint it holds (None if
    the run was logged live by training, without one)."""
    from wandb.apis.public.runs import RunNotFoundError

    try:
        return api.run(path).summary_metrics.get(FINGERPRINT)
    except RunNotFoundError:
        return ""


def open_api() -> Any:
    """wandb's public API, its credentials checked by the server (``PushError`` if refused or unreachable)."""
    import wandb

    try:
        return wandb.Api(timeout=30)
    except Exception as error:  # the W&B client raises many types (auth, HTTP, network)
        raise PushError(f"cannot use W&B at {server_url()} ({_one_line(error)}); nothing was pushed") from None


def write_run(record: Record, project: str, entity: str | None, mode: str, out_dir: Path) -> Path:
    """One W&B run holding ``record``; returns the run's local folder."""
    import wandb

    s = record.summary
    run = wandb.init(
        project=project, entity=entity, id=record.run_id, name=record.run_id, resume="allow",
        group=wandb_group(s["scale"], s["ablation"]), tags=[s["ablation"], str(s["variant"]), s["scale"]],
        job_type="record", config=record.config, dir=str(out_dir), mode=mode,
        settings=wandb.Settings(silent=True, console="off", save_code=False, disable_git=True,
                                x_disable_stats=True, x_save_requirements=False),
    )
    try:
        for row in record.history:
            run.log(row)
        run.summary.update({**s, FINGERPRINT: record.fingerprint})
    finally:
        run.finish()
    return Path(run.dir).parent


def push(records: list[Record], project: str, entity: str | None, mode: str, out_dir: Path,
         api: Any = None) -> dict[str, list[str]]:
    """Push each record not already pushed (to W&B through ``api`` online, else into ``out_dir``);
    outcome lists: pushed, unchanged, live (logged by training), conflicts (another version held)."""
    outcome: dict[str, list[str]] = {"pushed": [], "unchanged": [], "live": [], "conflicts": []}
    if api is not None:
        entity = entity or api.default_entity
    for record in records:
        if api is not None:
            try:
                held = online_fingerprint(api, f"{entity}/{project}/{record.run_id}")
            except Exception as error:  # noqa: BLE001
                raise PushError(f"W&B refused reading {record.run_id} ({_one_line(error)})") from None
        else:
            held = offline_fingerprint(out_dir, record.run_id)
        if held == record.fingerprint:
            outcome["unchanged"].append(record.run_id)
        elif held is None:
            outcome["live"].append(record.run_id)
        elif held:
            outcome["conflicts"].append(record.run_id)
        else:
            try:
                folder = write_run(record, project, entity, mode, out_dir)
            except Exception as error:  # noqa: BLE001
                raise PushError(f"W&B refused {record.run_id} ({_one_line(error)}); "
                                f"{len(outcome['pushed'])} runs pushed before it") from None
            if mode == "offline":
                (folder / FINGERPRINT).write_text(record.fingerprint + "\n")
            outcome["pushed"].append(record.run_id)
    return outcome


def _one_line(error: Exception) -> str:
    return " ".join(f"{error.__class__.__name__}: {error}".split())[:300]


def main(argv: list[str]) -> int:
    parser = ArgumentParser(prog="make wandb-push", description=__doc__.splitlines()[0])
    parser.add_argument("ablations", nargs="*", help="default: every ablation found")
    parser.add_argument("--runs", type=Path, default=Path("results/runs"), help="the records (default: the committed study)")
    parser.add_argument("--scale", help="only records of this scale")
    parser.add_argument("--mode", default=os.environ.get("WANDB_MODE", "auto"),
                        help=f"{', '.join(MODES)} (default: $WANDB_MODE, else auto)")
    parser.add_argument("--project", default=default_project(), help="default: $WANDB_PROJECT, else configs/logger/wandb.yaml")
    parser.add_argument("--entity", default=os.environ.get("WANDB_ENTITY"), help="default: $WANDB_ENTITY, else your default entity")
    parser.add_argument("--dir", type=Path, default=Path("results/local/wandb"), help="where W&B writes its run folders")
    args = parser.parse_args(argv)
    os.environ.setdefault("WANDB_SILENT", "true")
    if not args.runs.is_dir():
        raise UserError(f"no run records at {args.runs} (--runs)")
    records = [r for r in read_records(args.runs, args.scale)
               if not args.ablations or r.summary.get("ablation") in args.ablations]
    complete = [r for r in records if r.summary.get("status") == "complete"]
    if not complete:
        raise UserError(f"no complete run records under {args.runs} match {' '.join(args.ablations) or 'any ablation'}"
                        f"{f' at scale {args.scale}' if args.scale else ''}")
    for record in complete:
        record.check()
    mode = resolve_mode(args.mode)
    if mode == "disabled":
        raise UserError("W&B mode is disabled (WANDB_MODE or --mode); nothing to push")
    args.dir.mkdir(parents=True, exist_ok=True)
    outcome = push(complete, args.project, args.entity, mode, args.dir, open_api() if mode == "online" else None)
    where = f"{args.project} on {server_url()}" if mode == "online" else f"offline runs in {args.dir}/wandb (make wandb-sync uploads them)"
    print(f"{len(outcome['pushed'])} pushed, {len(outcome['unchanged'])} already there, "
          f"{len(records) - len(complete)} not complete (skipped): {where}")
    if outcome["live"]:
        print(f"{len(outcome['live'])} already logged by training, left as they are: {', '.join(outcome['live'])}")
    if outcome["conflicts"]:
        print(f"error: W&B holds another version of {', '.join(outcome['conflicts'])}; delete "
              f"{'those runs on W&B' if mode == 'online' else f'their offline-run folders in {args.dir}/wandb'} "
              "to push these records", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, sys.argv[1:]))
