"""Statistics, verdict rule and the paper's numbers (analysis.stats, analysis.paper)."""

import math

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as sps

from inception_repro.ablations import ablation_names, all_claims, claim, load_ablation
from inception_repro.analysis import paper
from inception_repro.analysis.comparisons import CLAIMS_COLUMNS, claims_table, config_identity
from inception_repro.analysis.power import (
    POWER,
    directional_power,
    equivalence_power,
    minimum_detectable_effect,
    seeds_for_half_width,
    seeds_for_power,
)
from inception_repro.analysis.stats import (
    ALPHA,
    EQUIVALENCE_MARGIN,
    check_single_scale,
    holm,
    paired_delta,
    rule_p_value,
    summarize,
    variant_summary,
    verdict,
)


def runs(rows, scale="cpu", status="complete"):
    """A collect_runs-like table from (ablation, variant, seed, test_top1) tuples."""
    return pd.DataFrame(
        [{"ablation": a, "variant": v, "seed": s, "test_top1": t, "scale": scale,
          "status": status, "run_dir": f"runs/{a}/{v}/seed{s}", "wall_time_s": 1800.0,
          "git_commit": "abcdef0123"} for a, v, s, t in rows]
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


def test_summarize_gives_no_zero_width_interval_for_values_without_spread():
    s = summarize([0.03, 0.03, 0.03])
    assert s.n == 3 and s.mean == pytest.approx(0.03) and s.sd == 0.0
    assert math.isnan(s.ci_low) and math.isnan(s.ci_high)


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
    # directional: the interval wholly on the paper's side of 0, wholly on the other, or across 0
    (0.1, 0.5, +1, "supports"),
    (-0.5, -0.1, +1, "contradicts"),
    (-0.1, 0.5, +1, "inconclusive"),
    (0.0, 0.5, +1, "inconclusive"),
    (-0.5, -0.1, -1, "supports"),
    (0.1, 0.5, -1, "contradicts"),
    (-0.2, 0.3, -1, "inconclusive"),
    # no difference (TOST at +-1 point): inside the margin, wholly outside it, or neither
    (-0.2, 0.3, 0, "supports"),
    (0.1, 0.3, 0, "supports"),  # excludes 0, but lies inside the margin
    (-0.99, 0.99, 0, "supports"),
    (-1.0, 1.0, 0, "inconclusive"),  # touching the margin is not inside it
    (-28.9, 25.8, 0, "inconclusive"),
    (-0.5, 1.5, 0, "inconclusive"),
    (0.2, 1.5, 0, "inconclusive"),  # excludes 0, yet not wholly outside the margin
    (1.1, 2.0, 0, "contradicts"),
    (-3.0, -1.01, 0, "contradicts"),
    (math.nan, math.nan, +1, "inconclusive"),
    (math.nan, math.nan, 0, "inconclusive"),
])
def test_verdict_rule(low, high, direction, expected):
    assert verdict(low, high, direction) == expected


def test_verdict_rejects_unknown_direction():
    with pytest.raises(ValueError, match="direction"):
        verdict(0.1, 0.2, 2)


@pytest.mark.parametrize("direction", [-1, 0, 1])
def test_rule_p_value_is_below_alpha_exactly_when_the_interval_gives_a_verdict(direction):
    rng = np.random.default_rng(direction + 1)
    seen = set()
    for _ in range(400):
        deltas = rng.normal(rng.uniform(-3, 3), rng.uniform(0.05, 2.0), size=int(rng.integers(2, 8)))
        s = summarize(deltas)
        p, v = rule_p_value(s.mean, s.sd, s.n, direction), verdict(s.ci_low, s.ci_high, direction)
        assert (p < ALPHA) == (v != "inconclusive")
        seen.add(v)
    assert seen == {"supports", "contradicts", "inconclusive"}


def test_rule_p_value_of_a_directional_claim_is_the_paired_t_test():
    deltas = np.array([0.4, 1.1, 0.2, 0.9])
    s = summarize(deltas)
    assert rule_p_value(s.mean, s.sd, s.n, +1) == pytest.approx(sps.ttest_1samp(deltas, 0).pvalue)
    assert math.isnan(rule_p_value(1.0, math.nan, 1, +1))


def test_holm_adjusts_within_the_family_and_skips_missing_p_values():
    assert holm([0.01, 0.04, 0.03, math.nan])[:3] == pytest.approx([0.03, 0.06, 0.06])
    assert math.isnan(holm([0.01, math.nan])[1])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


# --- power -----------------------------------------------------------------------------------

def test_minimum_detectable_effect_has_the_stated_power_by_simulation():
    sd, n = 2.0, 3
    mde = minimum_detectable_effect(sd, n)
    assert directional_power(mde, sd, n) == pytest.approx(POWER, abs=1e-4)
    rng = np.random.default_rng(0)
    x = rng.normal(mde, sd, size=(40_000, n))
    t = x.mean(1) / (x.std(1, ddof=1) / math.sqrt(n))
    assert np.mean(np.abs(t) > sps.t.ppf(1 - ALPHA / 2, n - 1)) == pytest.approx(POWER, abs=0.01)
    # many seeds: the noncentral t approaches the normal formula (z_0.975 + z_0.8) sd / sqrt(n)
    z = sps.norm.ppf(1 - ALPHA / 2) + sps.norm.ppf(POWER)
    assert minimum_detectable_effect(sd, 400) == pytest.approx(z * sd / 20, rel=0.01)
    assert math.isnan(minimum_detectable_effect(sd, 1)) and math.isnan(minimum_detectable_effect(0.0, 3))


def test_seed_counts_are_the_smallest_that_reach_their_target():
    sd = 2.3
    n = seeds_for_half_width(sd, 1.0)
    half = lambda k: sps.t.ppf(1 - ALPHA / 2, k - 1) * sd / math.sqrt(k)  # noqa: E731
    assert half(n) <= 1.0 < half(n - 1)
    k = seeds_for_power(sd, 1.2)
    assert directional_power(1.2, sd, k) >= POWER > directional_power(1.2, sd, k - 1)
    k = seeds_for_power(sd, EQUIVALENCE_MARGIN, equivalence=True)
    assert equivalence_power(1.0, sd, k) >= POWER > equivalence_power(1.0, sd, k - 1)
    assert seeds_for_half_width(0.1, 1.0) == 2


# --- identical comparisons -------------------------------------------------------------------

def test_config_identity_ignores_labels_seed_and_paths_but_nothing_else(tmp_path):
    def run(name, **cfg):
        folder = tmp_path / name
        folder.mkdir()
        base = {"model": {"aux": "bn"}, "ablation": name, "variant": name, "seed": 0,
                "run_dir": str(folder), "results_dir": "x", "logger": {"mode": name}}
        (folder / "config.yaml").write_text(yaml.safe_dump({**base, **cfg}))
        return {"run_dir": str(folder), "ablation": name, "variant": name}

    df = pd.DataFrame([run("a"), run("b", seed=3), run("c", model={"aux": "plain"}),
                       {"run_dir": str(tmp_path / "none"), "ablation": "w", "variant": "v"}])
    ids = config_identity(df).tolist()
    assert ids[0] == ids[1] and ids[2] != ids[0] and ids[3] == "w/v"




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
    assert list(table["claim"]) == [c.claim for c in all_claims()]  # no config.yaml: all distinct
    row = table.set_index("claim")
    bn = row.loc["aux_bn_vs_plain"]
    assert (bn["verdict"], bn["holm_verdict"], bn["n_seeds"]) == ("supports", "supports", 3)
    assert bn["paper_delta"] == pytest.approx(0.4) and bn["paper_in_ci"] == "false"
    assert bn["holm_p"] == pytest.approx(bn["p_value"]) and bn["p_value"] < ALPHA  # a family of one
    assert bn["seeds_for_1pp"] == 2 and bn["commits"] == "abcdef0"
    assert bn["mde_pp"] == pytest.approx(minimum_detectable_effect(100 * np.std([0, .0005, 0], ddof=1), 3),
                                         rel=1e-3)
    assert row.loc["aux_plain_vs_none", "verdict"] == "no runs"
    assert math.isnan(row.loc["aux_plain_vs_none", "paper_delta"])
    assert row.loc["label_smoothing", "verdict"] == "inconclusive"  # n = 1
    assert row.loc["label_smoothing", "ours_delta"] == pytest.approx(10.0)
    assert row.loc["resolution_79_vs_299", "verdict"] == "no runs"  # gpu runs not mixed in
    assert (table["scale"] == "cpu").all()
    assert len(table.attrs["run_dirs"]) == 8
    gpu = claims_table(df, "gpu").set_index("claim")
    assert gpu.loc["aux_bn_vs_plain", "n_seeds"] == 0
    # 151 vs 299 at gpu: no runs of 151; 79 vs 299 identical deltas: no spread, so no interval
    assert gpu.loc["resolution_79_vs_299", "verdict"] == "inconclusive"
    assert gpu.loc["resolution_79_vs_299", "paper_in_ci"] == ""


def test_claims_table_shows_an_identical_comparison_once_and_names_shared_runs():
    """aux_bn_vs_plain and table3_bn_aux compare the same configs; label_smoothing's eps0.1 is the
    same config as aux's bn, so those claims share runs; Holm counts each comparison once."""
    same = {("aux", "plain"): "v3-plain-aux", ("table3", "factorized_7x7"): "v3-plain-aux",
            ("aux", "bn"): "v3", ("table3", "bn_aux"): "v3", ("label_smoothing", "eps0.1"): "v3"}
    rows = [(a, v, k, 0.80 + (0.01 + 0.002 * (k % 2)) * (v in ("bn", "bn_aux", "eps0.1")) + 0.001 * k)
            for (a, v) in [*same, ("label_smoothing", "eps0")] for k in range(3)]
    df = runs(rows)
    df["config_id"] = [same.get((a, v), f"{a}/{v}") for a, v in zip(df["ablation"], df["variant"])]
    df.loc[df["ablation"] == "table3", "git_commit"] = "1234567890"
    table = claims_table(df, "cpu").set_index("claim")
    assert "table3_bn_aux" not in table.index
    bn = table.loc["aux_bn_vs_plain"]
    assert bn["same_comparison_as"] == "table3_bn_aux" and bn["commits"] == "abcdef0"
    assert bn["shares_runs_with"] == "label_smoothing"
    assert table.loc["label_smoothing", "shares_runs_with"] == "aux_bn_vs_plain"
    assert table.loc["table3_rmsprop", "shares_runs_with"] == ""
    p = table["p_value"].dropna()
    assert len(p) == 2  # a family of two comparisons, not three claims
    assert table["holm_p"].dropna().min() == pytest.approx(min(1.0, 2 * p.min()))


def test_claims_table_says_what_would_resolve_an_inconclusive_claim():
    noisy = [0.80, 0.83, 0.79]
    df = runs([("optimizer", "sgd", k, 0.80) for k in range(3)]
              + [("optimizer", "rmsprop", k, v) for k, v in enumerate(noisy)])
    row = claims_table(df, "cpu").set_index("claim").loc["rmsprop_vs_sgd"]
    sd = 100 * np.std(noisy, ddof=1)
    assert row["verdict"] == "inconclusive"
    assert row["seeds_to_resolve"] == seeds_for_power(sd, 0.3)
    assert row["cpu_hours_to_resolve"] == pytest.approx((row["seeds_to_resolve"] - 3) * 2 * 0.5)


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
    assert claim("fig2_relu_vs_linear").paper_delta == pytest.approx(
        paper.FIG2_TOP1_ACC["relu"] - paper.FIG2_TOP1_ACC["linear"])
    with pytest.raises(KeyError, match="valid"):
        claim("nope")


def test_the_yamls_claimed_deltas_are_the_papers_tables():
    """Table 2 and Table 3 claims: the delta written in the YAML is the tables' difference."""
    acc = {r.variant: 100.0 - r.top1_err for r in paper.TABLE3 if r.variant}
    for c in all_claims():
        if c.ablation == "table3":
            assert c.paper_delta == pytest.approx(acc[c.variant] - acc[c.control]), c.claim
        if c.ablation == "resolution":
            t2 = paper.TABLE2_TOP1_ACC
            assert c.paper_delta == pytest.approx(t2[c.variant] - t2[c.control]), c.claim
    assert claim("rmsprop_vs_sgd").paper_delta == claim("table3_rmsprop").paper_delta


def test_claims_refer_to_known_ablations_and_variants():
    ids = [c.claim for c in all_claims()]
    assert len(ids) == len(set(ids))
    for c in all_claims():
        assert c.ablation in ablation_names()
        assert {c.control, c.variant} <= set(load_ablation(c.ablation).variants)
        assert c.direction in (-1, 0, 1)
        if c.paper_delta is not None and c.direction != 0:
            assert np.sign(c.paper_delta) == c.direction
