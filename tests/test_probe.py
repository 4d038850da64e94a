"""``make probe`` on a tiny design: every run is recorded, a config two comparisons share is trained
once, the pooled paired sd and detectable effect come out, a second start reads the runs back
instead of training them, bad input is one line."""

from __future__ import annotations

import json
import math

import pytest

from inception_repro.analysis.power import minimum_detectable_effect
from inception_repro.bench.probe import main
from inception_repro.bench.probe_stats import detectable_effect

from conftest import TINIER_SUBSETS, needs_fashion_mnist, tiny_run_overrides


def test_detectable_effect_is_the_power_analysis_one_or_none():
    assert detectable_effect(1.0, 4) == minimum_detectable_effect(1.0, 4)
    assert detectable_effect(1.0, 1) is None and detectable_effect(math.nan, 4) is None


@pytest.mark.slow
@needs_fashion_mnist
def test_probe_records_runs_resumes_and_merges_without_training_again(tmp_path, fmnist_cache, capsys):
    overrides = [o for o in [*tiny_run_overrides(tmp_path, fmnist_cache), *TINIER_SUBSETS] if not o.startswith("results_dir=")]
    out = tmp_path / "probes.json"
    argv = ["--seeds", "2", "--design", "tiny", "model.stem=light", "model.input_size=12", "data.train_subset=16",
            "data.val_subset=16", "data.test_subset=16",
            "--compare", "aux", "none", "bn", "--compare", "factorization", "baseline", "conv5x5",
            "--runs-dir", str(tmp_path / "probes"), "--out", str(out), "--budget-hours", "1", "--", *overrides]
    assert main(argv) == 0
    first = json.loads(out.read_text())
    (design,) = first["designs"]
    assert [(r["ablation"], r["variant"], r["seed"], r["status"]) for r in design["runs"]] == [
        (ablation, variant, seed, "complete") for seed in (0, 1)
        for ablation, variant in (("aux", "none"), ("aux", "bn"), ("factorization", "baseline"), ("factorization", "conv5x5"))]
    assert all(r["grid_sizes"] == [12, 5, 2] for r in design["runs"])
    by_config = {(r["ablation"], r["variant"], r["seed"]): r for r in design["runs"]}
    for seed in (0, 1):  # aux bn and factorization baseline are one config: one run, not two
        assert by_config["aux", "bn", seed]["config_hash"] == by_config["factorization", "baseline", seed]["config_hash"]
        assert by_config["aux", "bn", seed]["wall_time_s"] == by_config["factorization", "baseline", seed]["wall_time_s"]
    assert not (tmp_path / "probes" / "tiny" / "cpu" / "factorization" / "baseline").exists()
    assert [c["seeds"] for c in design["comparisons"]] == [[0, 1], [0, 1]] and design["n_seeds"] == 2
    sds = [c["paired_sd_pp"] for c in design["comparisons"]]
    assert design["pooled_sd_pp"] == pytest.approx(math.sqrt((sds[0] ** 2 + sds[1] ** 2) / 2))
    assert design["detectable_pp"] == detectable_effect(design["pooled_sd_pp"], 2)
    assert design["seconds_per_run"] > 0
    per_seed = design["seconds_per_run"] * first["study_runs_per_seed"] / first["workers"]
    assert first["workers"] == 2 and design["seeds_in_budget"] == int(3600 // per_seed)

    assert main(argv) == 0  # read back: the same runs, not trained again
    assert json.loads(out.read_text())["designs"][0]["runs"] == design["runs"]

    # --merge: a design's runs from several files, each run once, checked against the design's overrides
    merged = tmp_path / "merged.json"
    tiny = argv[argv.index("--design"):argv.index("--compare")]
    assert main(["--merge", str(out), str(out), *tiny, "--out", str(merged), "--budget-hours", "1", "--", *overrides]) == 0
    (again,) = json.loads(merged.read_text())["designs"]
    assert again["runs"] == design["runs"] and again["pooled_sd_pp"] == design["pooled_sd_pp"]
    assert main(["--merge", str(out), *tiny, "data.train_subset=32", "--out", str(merged), "--", *overrides]) == 2
    assert "was not trained with the config its design's overrides give today" in capsys.readouterr().err
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"pair": {"ablation": "aux"}, "designs": []}))
    assert main(["--merge", str(old), "--out", str(merged)]) == 2
    assert "is not a probe result of this version" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["--compare", "aux", "none", "deep"], "aux has no variant 'deep'"),
    (["--compare", "nope", "a", "b"], "unknown ablation 'nope'"),
    (["--seeds", "x"], "SEEDS='x' is not a count"),
])
def test_bad_probe_input_is_one_line(argv, message, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not (tmp_path / "p.json").exists()
