"""`make wandb-push`: committed run records become W&B runs (history, summary, config), once."""

from __future__ import annotations

import base64
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from wandb.apis.public.runs import RunNotFoundError
from wandb.proto import wandb_internal_pb2 as pb

from inception_repro.analysis import wandb_push
from inception_repro.analysis.wandb_push import PushError, Record, read_records

STUDY = Path(__file__).resolve().parents[1] / "results" / "runs"
PUSHED = [("aux", "bn", 0), ("aux", "none", 0)]


def wandb_records(path: Path) -> Iterator[pb.Record]:
    """The records of a .wandb transaction log: a 7-byte header, then 32 KiB blocks of chunks
    (crc32c, little-endian length, kind: 1 full, 2 first, 3 middle, 4 last) of protobuf Records."""
    data, pos, block, pending = path.read_bytes(), 7, 32768, b""
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        room = block - pos % block
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        if room < 7 or kind == 0:  # block trailer or padding
            pos += room
            continue
        pending += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            yield pb.Record.FromString(pending)
            pending = b""


def _items(items) -> dict:
    return {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in items}


def offline_run(out: Path, run_id: str) -> tuple[dict, list[dict], dict]:
    """Config, history rows and final summary of the one offline run `run_id` in `out`."""
    (folder,) = [p for p in (out / "wandb").glob("offline-run-*") if p.name.endswith(f"-{run_id}")]
    config, history, summary = {}, [], {}
    for record in wandb_records(folder / f"run-{run_id}.wandb"):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            config.update(_items(record.run.config.update))
        elif kind == "config":
            config.update(_items(record.config.update))
        elif kind == "history":
            history.append(_items(record.history.item))
        elif kind == "summary":
            summary.update(_items(record.summary.update))
    return config, history, summary


@pytest.fixture
def study(tmp_path) -> Path:
    """Two committed records, copied into the <scale>/<ablation>/<variant>/seed<k> layout."""
    for ablation, variant, seed in PUSHED:
        shutil.copytree(STUDY / "cpu" / ablation / variant / f"seed{seed}", tmp_path / "runs" / "cpu" / ablation / variant / f"seed{seed}")
    return tmp_path / "runs"


def test_records_are_read_through_the_store_layout(study):
    assert [r.run_id for r in read_records(study)] == ["cpu-aux-bn-seed0", "cpu-aux-none-seed0"]
    assert len(read_records(STUDY)) == len(list(STUDY.glob("*/*/*/seed*/summary.json")))


def _push(argv: list[str]) -> int:
    """``make wandb-push`` in this process; the W&B service is stopped after it, as at the command's
    exit, so that its offline files are whole before they are read (on one busy core they lag)."""
    import wandb

    try:
        return wandb_push.main(argv)
    finally:
        wandb.teardown()


def test_offline_push_holds_each_record_and_pushing_twice_changes_nothing(study, tmp_path, no_wandb_login, capsys):
    out = tmp_path / "out"
    interrupted = out / "wandb" / "offline-run-20260101_000000-cpu-aux-bn-seed0"
    interrupted.mkdir(parents=True)  # an earlier push killed before it finished this run
    assert _push(["--runs", str(study), "--dir", str(out)]) == 0
    assert capsys.readouterr().out.startswith("2 pushed, 0 already there")
    assert not interrupted.exists()
    for ablation, variant, seed in PUSHED:
        record = study / "cpu" / ablation / variant / f"seed{seed}"
        config, history, summary = offline_run(out, f"cpu-{ablation}-{variant}-seed{seed}")
        assert config["ablation"] == ablation and config["scale"] == yaml.safe_load((record / "config.yaml").read_text())["scale"]
        with open(record / "metrics.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert [h["trainer/global_step"] for h in history] == [int(r["step"]) for r in rows]
        assert [h.get("val/top1") for h in history] == [float(r["val/top1"]) if r["val/top1"] else None for r in rows]
        assert {k: summary[k] for k in ("status", "scale", "variant", "seed", "test_top1", "val_top1")} == {
            k: v for k, v in json.loads((record / "summary.json").read_text()).items()
            if k in ("status", "scale", "variant", "seed", "test_top1", "val_top1")}
        assert summary["record_sha256"] == Record(record).fingerprint
    folders = sorted((out / "wandb").glob("offline-run-*"))

    assert _push(["--runs", str(study), "--dir", str(out)]) == 0
    assert capsys.readouterr().out.startswith("0 pushed, 2 already there")
    assert sorted((out / "wandb").glob("offline-run-*")) == folders

    summary = study / "cpu" / "aux" / "bn" / "seed0" / "summary.json"
    summary.write_text(summary.read_text().replace('"status": "complete"', '"status": "complete", "note": 1'))
    assert _push(["--runs", str(study), "--dir", str(out)]) == 1
    assert "another version of cpu-aux-bn-seed0; delete their offline-run folders" in capsys.readouterr().err
    assert sorted((out / "wandb").glob("offline-run-*")) == folders


def test_online_push_asks_the_configured_server_with_the_key(study, tmp_path, wandb_standin):
    with pytest.raises(PushError, match=f"cannot use W&B at {wandb_standin.url} .*stand-in refuses every key.*nothing was pushed"):
        wandb_push.main(["--runs", str(study), "--dir", str(tmp_path / "out")])
    assert wandb_standin.requests and {r["path"] for r in wandb_standin.requests} == {"/graphql"}
    key = os.environ["WANDB_API_KEY"]
    assert {r["authorization"] for r in wandb_standin.requests} == {"Basic " + base64.b64encode(f"api:{key}".encode()).decode()}
    assert not (tmp_path / "out" / "wandb").exists()


def test_offline_push_sends_nothing_even_with_a_key_and_a_server(study, tmp_path, wandb_standin):
    """The whole process, wandb's service included, has exited before the stand-in is checked."""
    env = {**{k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"}, "WANDB_MODE": "offline",
           "PYTHONPATH": str(Path(wandb_push.__file__).parents[2])}  # its own service, not this process's
    done = subprocess.run([sys.executable, "-m", "inception_repro.analysis.wandb_push", "--runs", str(study),
                           "--dir", str(tmp_path / "out")], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.startswith("2 pushed"), done.stderr
    time.sleep(2)
    assert wandb_standin.requests == []


def test_nothing_to_push_is_one_line(tmp_path, capsys):
    (tmp_path / "runs").mkdir()
    assert wandb_push.run_cli(wandb_push.main, ["--runs", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err == f"error: no complete run records under {tmp_path / 'runs'} match any ablation\n"


def test_online_push_sends_only_what_w_and_b_lacks(study, tmp_path, monkeypatch):
    """Against what W&B already holds (a fake of wandb.Api): the same record is left alone, a run
    logged live by training too, another version is named, and only a missing run is written."""
    records = read_records(study)
    held = {"cpu-aux-bn-seed0": records[0].fingerprint, "cpu-aux-none-seed0": None}

    class Api:
        default_entity = "me"

        def run(self, path):
            run_id = path.removeprefix("me/inception-repro/")
            if run_id not in held:
                raise RunNotFoundError(path)
            return SimpleNamespace(summary_metrics={} if held[run_id] is None else {"record_sha256": held[run_id]})

    written = []
    monkeypatch.setattr(wandb_push, "write_run", lambda record, *args: written.append((record.run_id, *args)))
    out = tmp_path / "out"
    assert wandb_push.push(records, "inception-repro", None, "online", out, Api()) == {
        "pushed": [], "unchanged": ["cpu-aux-bn-seed0"], "live": ["cpu-aux-none-seed0"], "conflicts": []}
    held["cpu-aux-bn-seed0"] = "another"
    del held["cpu-aux-none-seed0"]
    assert wandb_push.push(records, "inception-repro", None, "online", out, Api()) == {
        "pushed": ["cpu-aux-none-seed0"], "unchanged": [], "live": [], "conflicts": ["cpu-aux-bn-seed0"]}
    assert written == [("cpu-aux-none-seed0", "inception-repro", "me", "online", out)]


@pytest.mark.parametrize(
    ("file", "edit", "expected"),
    [
        ("summary.json", lambda text: text[:40], "summary.json is a broken record (summary.json is not valid JSON"),
        ("summary.json", lambda text: "[1, 2]", "summary.json is a broken record (summary.json is not a JSON object)"),
        ("summary.json", lambda text: text.replace('"seed": 0', '"seed": "zero"'), "summary.json is a broken record (seed 'zero' is not an integer)"),
        ("summary.json", lambda text: text.replace('"test_top1": ', '"test_top1": "x", "was": '),
         "summary.json is a broken record (complete run has test_top1='x', not a fraction in [0, 1])"),
        ("summary.json", lambda text: text.replace('"variant": "bn"', '"variant": "plain"'),
         "summary.json is a broken record (summary says variant='plain' but the folder says 'bn')"),
        ("metrics.csv", lambda text: text.replace(",", ",abc,", 1), "metrics.csv, line 1: the header 'step,abc,epoch"),
        ("metrics.csv", lambda text: text.replace("\n19,", "\nnineteen,", 1), "metrics.csv, line 2: step='nineteen' is not a number"),
        ("config.yaml", lambda text: "model: [unclosed\n", "config.yaml is unreadable (ParserError:"),
    ],
)
def test_a_broken_record_is_named_before_anything_is_pushed(study, tmp_path, no_wandb_login, capsys, file, edit, expected):
    """Not 'W&B refused ...': the file and what is wrong with it, and no run pushed (the other record is fine)."""
    path = study / "cpu" / "aux" / "bn" / "seed0" / file
    path.write_text(edit(path.read_text()))
    assert wandb_push.run_cli(_push, ["--runs", str(study), "--dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path.parent / expected}") and err.count("\n") == 1, err
    assert "W&B" not in err and "nothing was pushed" in err
    assert not (tmp_path / "out").exists()
