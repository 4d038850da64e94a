"""The ablation grid: trains every variant x seed once, skips finished runs, refuses changed configs."""

from __future__ import annotations

import json

import pytest

from inception_repro import ablate

from conftest import TINIER_SUBSETS, needs_fashion_mnist, tiny_run_overrides


@pytest.mark.slow
@needs_fashion_mnist
def test_grid_is_idempotent_and_refuses_to_mix_changed_configs(tmp_path, fmnist_cache, capsys):
    overrides = [*tiny_run_overrides(tmp_path, fmnist_cache), *TINIER_SUBSETS]
    assert ablate.main(["label_smoothing", "--seeds", "2", "--", *overrides]) == 0
    summaries = sorted((tmp_path / "runs" / "cpu" / "label_smoothing").glob("*/seed*/summary.json"))
    assert [p.parent.parent.name + "/" + p.parent.name for p in summaries] == [
        "eps0/seed0", "eps0/seed1", "eps0.1/seed0", "eps0.1/seed1"
    ]
    assert all(json.loads(p.read_text())["status"] == "complete" for p in summaries)
    out = capsys.readouterr().out
    assert "4 to train" in out and "test top-1" in out

    stamps = [p.stat().st_mtime_ns for p in summaries]
    assert ablate.main(["label_smoothing", "--seeds", "2", "--", *overrides]) == 0
    assert "0 to train, 4 already recorded" in capsys.readouterr().out
    assert [p.stat().st_mtime_ns for p in summaries] == stamps  # nothing retrained or rewritten

    changed = [*overrides, "data.train_subset=48"]
    assert ablate.main(["label_smoothing", "--seeds", "2", "--", *changed]) == 2
    assert "config changed since these runs" in capsys.readouterr().err
    assert [p.stat().st_mtime_ns for p in summaries] == stamps

    assert ablate.main(["label_smoothing", "--seeds", "0,", "--force", "--", *changed]) == 0
    assert summaries[0].stat().st_mtime_ns != stamps[0]  # eps0/seed0 rerun
    assert summaries[1].stat().st_mtime_ns == stamps[1]  # eps0/seed1 not in the grid this time


def test_seed_lists():
    assert ablate.parse_seeds("3") == [0, 1, 2]
    assert ablate.parse_seeds("0,4") == [0, 4]
    assert ablate.parse_seeds("5,") == [5]
