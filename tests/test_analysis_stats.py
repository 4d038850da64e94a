"""Statistics, verdict rule and the paper's numbers (analysis.stats, analysis.paper)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from inception_repro.ablations import ablation_names, load_ablation
from inception_repro.analysis import paper
from inception_repro.analysis.stats import (
    CLAIMS_COLUMNS,
    check_single_scale,
    claims_table,
    paired_delta,
    summarize,
    variant_summary,
    verdict,
)


def runs(rows, scale="cpu", status="complete"):
    """A collect_runs-like table from (ablation, variant, seed, test_top1) tuples."""
    return pd.DataFrame(
        [{"ablation": a, "variant": v, "seed": s, "test_top1": t, "scale": scale,
          "status": status, "run_dir": f"runs/{a}/{v}/seed{s}"} for a, v, s, t in rows]
    )


# --- summarize -------------------------------------------------------------------------------

@pytest.mark.parametrize("values", [[0.71, 0.74, 0.69], [1.0, 2.0], [3.2, 3.1, 3.5, 2.9, 3.3, 3.0]])
def test_summarize_matches_scipy_t_interval(values):
    s = summarize(values)
    x = np.array(values)
    low, high = sps.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=sps.sem(x))
    assert s.n == len(x)
    assert s.mean == pytest.approx(x.mean())
    assert s.sd == pytest.approx(x.std(ddof=1))
    assert (s.ci_low, s.ci_high) == (pytest.approx(low), pytest.approx(high))


def test_summarize_small_n_gives_nan_interval():
    one = summarize([0.5])
    assert one.n == 1 and one.mean == 0.5
    assert math.isnan(one.sd) and math.isnan(one.ci_low) and math.isnan(one.ci_high)
    empty = summarize([])
    assert empty.n == 0 and math.isnan(empty.mean)


def test_summarize_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        summarize([0.5, float("nan")])


# --- paired_delta ----------------------------------------------------------------------------

def test_paired_delta_matches_scipy_ttest_rel():
    control = [0.700, 0.712, 0.695, 0.705]
    variant = [0.706, 0.715, 0.703, 0.704]
    df = runs([("aux", "plain", k, c) for k, c in enumerate(control)]
              + [("aux", "bn", k, v) for k, v in enumerate(variant)])
    d = paired_delta(df, "plain", "bn")
    ref = sps.ttest_rel(100 * np.array(variant), 100 * np.array(control))
    ci = ref.confidence_interval(0.95)
    assert d.n == 4 and d.seeds == (0, 1, 2, 3)
    assert d.mean == pytest.approx(100 * (np.mean(variant) - np.mean(control)))
    assert (d.ci_low, d.ci_high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert d.mean / (d.sd / math.sqrt(d.n)) == pytest.approx(ref.statistic)


def test_paired_delta_pairs_only_shared_seeds_of_complete_runs():
    df = pd.concat([
        runs([("aux", "plain", 0, 0.70), ("aux", "plain", 1, 0.71), ("aux", "plain", 2, 0.72),
              ("aux", "bn", 1, 0.72), ("aux", "bn", 2, 0.74), ("aux", "bn", 3, 0.99)]),
        runs([("aux", "plain", 4, 0.10), ("aux", "bn", 4, 0.90)], status="failed"),
    ])
    d = paired_delta(df, "plain", "bn")
    assert d.seeds == (1, 2)
    assert d.mean == pytest.approx(1.5)
    assert len(d.run_dirs) == 4 and all("seed4" not in r for r in d.run_dirs)


def test_paired_delta_refuses_mixed_scales():
    df = pd.concat([runs([("aux", "plain", 0, 0.7)], scale="cpu"),
                    runs([("aux", "bn", 0, 0.8)], scale="gpu")])
    with pytest.raises(ValueError, match="different scales"):
        paired_delta(df, "plain", "bn")
    with pytest.raises(ValueError, match="different scales"):
        check_single_scale(df)


def test_paired_delta_refuses_duplicates_and_ambiguous_ablation():
    dup = runs([("aux", "plain", 0, 0.7), ("aux", "plain", 0, 0.71), ("aux", "bn", 0, 0.8)])
    with pytest.raises(ValueError, match="several complete runs"):
        paired_delta(dup, "plain", "bn")
    two = runs([("optimizer", "rmsprop", 0, 0.7), ("table3", "rmsprop", 0, 0.7),
                ("optimizer", "sgd", 0, 0.6)])
    with pytest.raises(ValueError, match="several ablations"):
        paired_delta(two, "sgd", "rmsprop")
    assert paired_delta(two, "sgd", "rmsprop", ablation="optimizer").n == 1


# --- verdict ---------------------------------------------------------------------------------

@pytest.mark.parametrize("low, high, direction, expected", [
    (0.1, 0.5, +1, "supports"),
    (-0.5, -0.1, +1, "contradicts"),
    (-0.1, 0.5, +1, "inconclusive"),
    (0.0, 0.5, +1, "inconclusive"),
    (-0.5, -0.1, -1, "supports"),
    (0.1, 0.5, -1, "contradicts"),
    (-0.2, 0.3, -1, "inconclusive"),
    (-0.2, 0.3, 0, "supports"),
    (-1.0, 1.0, 0, "supports"),
    (-28.9, 25.8, 0, "inconclusive"),  # contains 0, but far wider than the +-1 point margin
    (-0.5, 1.5, 0, "inconclusive"),
    (0.1, 0.3, 0, "contradicts"),
    (-0.3, -0.1, 0, "contradicts"),
    (math.nan, math.nan, +1, "inconclusive"),
    (math.nan, math.nan, 0, "inconclusive"),
])
def test_verdict_rule(low, high, direction, expected):
    assert verdict(low, high, direction) == expected


def test_verdict_rejects_unknown_direction():
    with pytest.raises(ValueError, match="direction"):
        verdict(0.1, 0.2, 2)


# --- claims_table / variant_summary ----------------------------------------------------------

def test_claims_table_columns_rows_and_verdicts():
    df = pd.concat([
        runs([("aux", "plain", k, 0.70 + 0.001 * k) for k in range(3)]
             + [("aux", "bn", k, 0.72 + 0.001 * k + 0.0005 * (k % 2)) for k in range(3)]
             + [("label_smoothing", "eps0", 0, 0.7), ("label_smoothing", "eps0.1", 0, 0.8)]),
        runs([("resolution", "299", k, 0.9) for k in range(3)]
             + [("resolution", "79", k, 0.5) for k in range(3)], scale="gpu"),
    ])
    table = claims_table(df, "cpu")
    assert tuple(table.columns) == CLAIMS_COLUMNS
    assert list(table["claim"]) == [c.claim for c in paper.CLAIMS]
    row = table.set_index("claim")
    assert row.loc["aux_bn_vs_plain", "verdict"] == "supports"
    assert row.loc["aux_bn_vs_plain", "n_seeds"] == 3
    assert row.loc["aux_bn_vs_plain", "paper_delta"] == pytest.approx(0.4)
    assert row.loc["aux_plain_vs_none", "verdict"] == "no runs"
    assert math.isnan(row.loc["aux_plain_vs_none", "paper_delta"])
    assert row.loc["label_smoothing", "verdict"] == "inconclusive"  # n = 1
    assert row.loc["label_smoothing", "ours_delta"] == pytest.approx(10.0)
    assert row.loc["resolution_79_vs_299", "verdict"] == "no runs"  # gpu runs not mixed in
    assert (table["scale"] == "cpu").all()
    assert len(table.attrs["run_dirs"]) == 8
    gpu = claims_table(df, "gpu").set_index("claim")
    assert gpu.loc["resolution_79_vs_299", "verdict"] == "supports"
    assert gpu.loc["aux_bn_vs_plain", "n_seeds"] == 0


def test_variant_summary_orders_variants_and_uses_percent():
    df = runs([("resolution", v, k, 0.5 + 0.01 * k) for v in ("299", "79", "151")
               for k in range(2)])
    table = variant_summary(df, "resolution", "cpu")
    assert list(table["variant"]) == ["79", "151", "299"]
    assert table["mean"].tolist() == pytest.approx([50.5] * 3)
    assert table.attrs["scale"] == "cpu" and len(table.attrs["run_dirs"]) == 6


# --- paper -----------------------------------------------------------------------------------

def test_paper_numbers():
    assert paper.TABLE2_TOP1_ACC == {"79": 75.2, "151": 76.4, "299": 76.6}
    t3 = paper.table3_frame().dropna(subset=["variant"])
    assert list(t3["variant"]) == list(load_ablation("table3").variants)
    assert list(t3["top1_err"]) == [23.4, 23.1, 22.8, 21.6, 21.2]
    assert t3["top5_err"].isna().tolist() == [True, False, False, False, False]
    assert paper.claim("fig2_relu_vs_linear").paper_delta == pytest.approx(1.0)
    assert paper.claim("factorized_7x7").paper_delta == pytest.approx(1.2)
    assert paper.claim("resolution_79_vs_299").paper_delta == pytest.approx(-1.4)
    with pytest.raises(KeyError, match="valid"):
        paper.claim("nope")


def test_claims_refer_to_known_ablations_and_variants():
    ids = [c.claim for c in paper.CLAIMS]
    assert len(ids) == len(set(ids))
    for c in paper.CLAIMS:
        assert c.ablation in ablation_names()
        assert {c.control, c.variant} <= set(load_ablation(c.ablation).variants)
        assert c.direction in (-1, 0, 1)
        if c.paper_delta is not None and c.direction != 0:
            assert np.sign(c.paper_delta) == c.direction
