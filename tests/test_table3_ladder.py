"""Table 3 is a cumulative ladder: each rung changes exactly one setting of the rung before it."""

from __future__ import annotations

from inception_repro.ablations import load_ablation
from inception_repro.config import compose_run


def _settings(overrides: list[str]) -> dict[str, str]:
    return dict(o.split("=", 1) for o in overrides)


def test_each_rung_of_table3_changes_one_setting_of_the_rung_before():
    ladder = load_ablation("table3")
    rungs = [_settings(ladder.overrides(v)) for v in ladder.variants]
    for before, after in zip(rungs, rungs[1:]):
        assert before.keys() == after.keys()
        assert len([k for k in before if before[k] != after[k]]) == 1, (before, after)
    assert len(rungs) == 5
    assert rungs[-1] == {"optimizer": "rmsprop", "loss.label_smoothing": "0.1", "model.stem": "v3", "model.aux": "bn"}


def test_the_last_table3_row_is_the_default_inception_v3():
    default = compose_run(["scale=paper"])
    bn_aux = compose_run(["scale=paper", "ablation=table3", "variant=bn_aux"])
    for group in ("model", "optimizer", "loss"):
        assert default[group] == bn_aux[group]
    # the cpu scale's default stem is the light one; table3 keeps the paper's, as resolution/299 does
    cpu_bn_aux = compose_run(["scale=cpu", "ablation=table3", "variant=bn_aux"])
    assert cpu_bn_aux.model == compose_run(["scale=cpu", "ablation=resolution", "variant=299"]).model
    assert cpu_bn_aux.model.stem == "v3" and compose_run(["scale=cpu"]).model.stem == "light"
