"""The local store and the committed study: a grid writes results/local by default, STORE=study writes
results/, and a local grid ends by comparing each run with the study's record of the same run."""

from __future__ import annotations

import json
import shutil

import pytest

from inception_repro import ablate
from inception_repro.compare import BITWISE, DIFFERENT, NOISE, UNMATCHED, compare_with_study
from inception_repro.store import read_record, read_records, run_path

from conftest import needs_fashion_mnist, tiny_run_overrides

GRID = ["label_smoothing", "--scale", "cpu", "--seeds", "0,"]  # eps0 and eps0.1, seed 0


@pytest.fixture(scope="module")
def project(tmp_path_factory, fmnist_cache):
    """A project folder where the study and then the local store ran the same grid."""
    root = tmp_path_factory.mktemp("project")
    overrides = [o for o in tiny_run_overrides(root, fmnist_cache) if not o.startswith("results_dir=")]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setattr(ablate, "project_root", lambda: root)
        for store in (["--store", "study"], []):
            assert ablate.main([*GRID, *store, "--", *overrides, "trainer.deterministic=true"]) == 0
    return root


@needs_fashion_mnist
def test_the_local_grid_leaves_the_study_alone_and_reproduces_it_bitwise(project):
    study, local = project / "results", project / "results" / "local"
    assert [r.identity["variant"] for r in read_records(study, "cpu", "label_smoothing")] == ["eps0", "eps0.1"]
    assert [r.identity["variant"] for r in read_records(local, "cpu", "label_smoothing")] == ["eps0", "eps0.1"]
    comparisons = compare_with_study(read_records(local, "cpu"), study)
    assert [c.line() for c in comparisons] == ["label_smoothing/eps0/seed0: bitwise equal", "label_smoothing/eps0.1/seed0: bitwise equal"]


@needs_fashion_mnist
def test_the_grid_prints_the_comparison_and_a_rerun_trains_nothing(project, capsys, monkeypatch, fmnist_cache):
    monkeypatch.chdir(project)
    monkeypatch.setattr(ablate, "project_root", lambda: project)
    overrides = [o for o in tiny_run_overrides(project, fmnist_cache) if not o.startswith("results_dir=")]
    stamps = [p.stat().st_mtime_ns for p in (project / "results").rglob("summary.json")]
    assert ablate.main([*GRID, "--", *overrides, "trainer.deterministic=true"]) == 0
    out = capsys.readouterr().out
    assert "0 to train, 2 already recorded" in out
    assert "Against the committed study" in out and "label_smoothing/eps0.1/seed0: bitwise equal" in out
    assert [p.stat().st_mtime_ns for p in (project / "results").rglob("summary.json")] == stamps
    assert ablate.main([*GRID, "--store", "study", "--", *overrides, "trainer.deterministic=true"]) == 0
    assert "Against the committed study" not in capsys.readouterr().out  # the study is not compared with itself


def _copy(project, store, seed: int, **summary):
    """The local store's real eps0/seed0 run copied as ``seed`` into ``store``, its summary changed."""
    source = run_path(project / "results" / "local", "cpu", "label_smoothing", "eps0", 0)
    target = run_path(store, "cpu", "label_smoothing", "eps0", seed)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("checkpoints"))
    record = json.loads((target / "summary.json").read_text())
    (target / "summary.json").write_text(json.dumps({**record, "seed": seed, **summary}))
    return read_record(target)


@needs_fashion_mnist
def test_within_the_committed_spread_is_noise_beyond_it_different_and_the_provenance_says_why(project, tmp_path):
    study, mine = tmp_path / "study", tmp_path / "mine"
    for seed, top1 in ((0, 0.80), (1, 0.84)):  # committed spread: 0.04 over 2 seeds
        _copy(project, study, seed, test_top1=top1)
    near = _copy(project, mine, 0, test_top1=0.83, git_commit="f" * 40, num_threads=8, cpu="another CPU")
    far = _copy(project, mine, 1, test_top1=0.70, platform="Darwin-arm64", config_hash="0123", git_commit=None)
    unmatched = _copy(project, mine, 2)
    noise, different, alone = compare_with_study([near, far, unmatched], study)
    assert noise.verdict == NOISE and "committed spread 0.0400 over 2 seeds" in noise.detail
    assert any(w.startswith("code commit ") and w.endswith(" -> fffffff") for w in noise.why)
    assert any(w.startswith("thread count ") and w.endswith(" -> 8") for w in noise.why)
    assert any(w.startswith("host CPU ") and w.endswith(" -> another CPU") for w in noise.why)
    assert different.verdict == DIFFERENT and "test top-1 0.7000 vs committed 0.8400" in different.detail
    assert any(w.endswith(" -> Darwin-arm64") for w in different.why)
    assert any(w.startswith("config hash ") and w.endswith(" -> 0123") for w in different.why)
    assert any(w.startswith("code commit ") and w.endswith(" -> not recorded") for w in different.why)
    assert alone.verdict == UNMATCHED and alone.line() == "label_smoothing/eps0/seed2: no committed record"
    assert BITWISE not in {noise.verdict, different.verdict}
