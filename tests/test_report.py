"""analysis.report: where a notebook's runs come from and what it says when there are none."""

from __future__ import annotations

import io
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import wandb  # noqa: E402

from inception_repro.analysis import report  # noqa: E402
from inception_repro.analysis.plots import Plot  # noqa: E402
from inception_repro.analysis.stats import variant_order  # noqa: E402
from inception_repro.analysis.tables import ShownTable  # noqa: E402


def wandb_run(run_id, variant, seed, top1):
    run = SimpleNamespace(
        id=run_id, state="finished", tags=["aux", variant, "cpu"], url=f"https://wandb.example/{run_id}",
        config={"ablation": "aux", "variant": variant, "seed": seed, "scale": {"name": "cpu"}},
        summary={"val/top1": top1, "val/top5": 1.0, "test/top1": top1, "test/top5": 1.0},
    )
    run.scan_history = lambda: iter([{"trainer/global_step": 5, "val/top1": top1 - 0.1},
                                     {"trainer/global_step": 10, "val/top1": top1}])
    return run


class FakeApi:
    default_entity = "me"

    def runs(self, path):
        assert path == "me/inception-repro"
        return [wandb_run(f"r{v}{k}", v, k, 0.5 + 0.1 * k + 0.01 * len(v)) for v in ("none", "bn") for k in (0, 1)]


def test_a_wandb_study_gives_the_same_tables_and_curves(monkeypatch, tmp_path):
    monkeypatch.setattr(wandb, "Api", FakeApi)
    study = report.load(source="wandb", output_dir=tmp_path, notebook="aux")
    assert repr(study).startswith("4 runs at scale cpu from me/inception-repro (wandb): 4 complete")
    overtake = report.overtake(study, "aux", claim="aux_plain_vs_none")
    assert list(overtake["variant"]) == ["bn", "bn"] and list(overtake["step"]) == [5, 10]
    assert overtake["ours_delta"].tolist() == pytest.approx([-2.0, -2.0])
    assert isinstance(report.learning_curves(study, "aux"), Plot)
    assert (tmp_path / "figures" / "aux_curves.png").is_file()
    assert "aux_overtake.csv" in {p.name for p in (tmp_path / "tables").iterdir()}


def test_unreadable_wandb_or_missing_folder_is_one_line(monkeypatch, tmp_path):
    def no_key():
        raise wandb.errors.UsageError("No API key configured.\nUse `wandb login`.")

    monkeypatch.setattr(wandb, "Api", no_key)
    study = report.load(source="wandb")
    assert repr(study) == "Cannot read W&B runs: No API key configured. Use `wandb login`."
    assert repr(report.claims(study)) == repr(study)
    missing = report.load(results_dir=tmp_path / "nowhere")
    assert repr(missing).startswith("No results folder at ") and "\n" not in repr(missing)
    with pytest.raises(ValueError, match="valid: local, wandb"):
        report.load(source="s3")


def test_variants_follow_the_ablation_file_order():
    assert variant_order("resolution", ["299", "151", "79"]) == ["79", "151", "299"]
    assert variant_order("aux", ["bn", "extra", "none"]) == ["none", "bn", "extra"]
    assert variant_order("not_an_ablation", ["b", "a"]) == ["a", "b"]


def test_costs_table_adds_the_paper_scale_costs_when_make_costs_wrote_them(monkeypatch, tmp_path):
    monkeypatch.setattr(wandb, "Api", FakeApi)
    study = report.load(source="wandb", output_dir=tmp_path)
    assert repr(report.paper_costs(study)).startswith(f"No {tmp_path / 'tables' / 'model_costs.csv'}: run `make costs`")
    assert "paper_scale_macs_G" not in report.costs_table(study).columns
    (tmp_path / "tables").mkdir(exist_ok=True)
    pd.DataFrame({"ablation": ["aux"] * 2, "variant": ["none", "bn"], "macs": [5.0e9, 5.5e9],
                  "params": [2.0e7, 2.5e7]}).to_csv(tmp_path / "tables" / "model_costs.csv", index=False)
    costs = report.costs_table(study).set_index("variant")
    assert list(costs.index) == ["none", "bn"] and (costs["n"] == 2).all()
    assert costs["paper_scale_macs_G"].tolist() == pytest.approx([5.0, 5.5])
    assert costs["paper_scale_params_M"].tolist() == pytest.approx([20.0, 25.0])


def test_tables_display_fixed_decimals_without_index_nan_or_negative_zero():
    df = pd.DataFrame({"claim": ["a", "b"], "ours_delta": [-0.001, float("nan")],
                       "n": pd.array([3, None], dtype="Int64"), "p_value": [0.01234, 1.0],
                       "ok": [True, False]})
    shown = ShownTable(df)
    assert repr(shown) == shown._repr_markdown_() == (
        "| claim | ours_delta | n | p_value | ok |\n"
        "| --- | ---: | ---: | ---: | --- |\n"
        "| a | 0.00 | 3 | 0.012 | true |\n"
        "| b |  |  | 1.000 | false |\n")
    assert shown._repr_html_() is None  # so notebooks render the Markdown, not pandas' HTML
    assert type(shown.set_index("claim")) is pd.DataFrame


def test_a_figure_shown_as_text_names_no_machine_path():
    from matplotlib.figure import Figure

    plot = Plot(Figure(), "cpu", ["/home/someone/results/runs/aux/bn/seed0"])
    assert repr(plot) == "Figure of 1 runs at scale cpu"


def test_what_the_study_can_conclude_is_computed_from_the_claims_table():
    from inception_repro.analysis.conclusions import conclusions
    from inception_repro.analysis.comparisons import claims_table

    rows = [("aux", "plain", k, 0.70 + 0.001 * k) for k in range(3)]
    rows += [("aux", "bn", k, 0.72 + 0.001 * k + 0.0005 * (k % 2)) for k in range(3)]
    rows += [("optimizer", "sgd", k, 0.80) for k in range(3)]
    rows += [("optimizer", "rmsprop", k, v) for k, v in enumerate([0.80, 0.83, 0.79])]
    runs = pd.DataFrame([{"ablation": a, "variant": v, "seed": s, "test_top1": t, "scale": "cpu",
                          "status": "complete", "run_dir": f"runs/{a}/{v}/seed{s}", "wall_time_s": 3600.0,
                          "git_commit": "abc1234"} for a, v, s, t in rows])
    table = claims_table(runs, "cpu")
    text = conclusions(table)
    noisy = table.set_index("claim").loc["rmsprop_vs_sgd"]
    assert text.startswith("**What this study can and cannot conclude** (scale `cpu`, 3 seeds per comparison)")
    assert "- Resolved by the rule: 1 of 2; after Holm's adjustment: 1. The other 1 are" in text
    assert f"| rmsprop_vs_sgd | paper's Δ | 3 | {noisy['seeds_to_resolve']} | {noisy['seeds_to_resolve'] - 3} |" in text
    assert "aux_bn_vs_plain |" not in text.split("For the other")[1]  # resolved: not in the rest
    assert conclusions(pd.read_csv(io.StringIO(table.to_csv(index=False)))) == text  # as the README reads it
