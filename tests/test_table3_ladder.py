"""Table 3 is a cumulative ladder: each rung changes exactly one setting of the rung before it."""

from __future__ import annotations

from inception_repro.ablations import load_ablation


def _settings(overrides: list[str]) -> dict[str, str]:
    return dict(o.split("=", 1) for o in overrides)


def test_each_rung_of_table3_changes_one_setting_of_the_rung_before():
    ladder = load_ablation("table3")
    rungs = [_settings(ladder.overrides(v)) for v in ladder.variants]
    for before, after in zip(rungs, rungs[1:]):
        assert before.keys() == after.keys()
        assert len([k for k in before if before[k] != after[k]]) == 1, (before, after)
