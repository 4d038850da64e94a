"""`make report`: the W&B report of each ablation, built offline and inspected (never saved)."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
from wandb_workspaces.reports import v2 as wr

from inception_repro.ablations import ablation_names, load_ablation
from inception_repro.analysis import wandb_reports
from inception_repro.analysis.collect import collect_runs
from inception_repro.analysis.comparisons import claims_table
from inception_repro.analysis.stats import variant_summary

RESULTS = Path(__file__).resolve().parents[1] / "results"


@pytest.fixture(scope="module")
def runs():
    return collect_runs(RESULTS, "cpu")


def test_every_ablation_has_a_report_of_its_runs_grouped_by_variant(runs):
    for name in ablation_names():
        report = wandb_reports.build_report(name, "cpu", "me", "inception-repro", runs)
        assert (report.entity, report.project) == ("me", "inception-repro")
        assert name in report.title and "scale=cpu" in report.title
        text = " ".join(b.text for b in report.blocks if isinstance(b, wr.MarkdownBlock))
        assert load_ablation(name).paper_section in text
        assert all(f"`{c.variant}` vs `{c.control}`" in text for c in load_ablation(name).claims)
        (grid,) = [b for b in report.blocks if isinstance(b, wr.PanelGrid)]
        (runset,) = grid.runsets
        assert (runset.entity, runset.project, runset.groupby) == ("me", "inception-repro", ["config.variant"])
        assert f"'{name}'" in runset.filters and "ablation" in runset.filters
        assert "scale.name" in runset.filters and "'cpu'" in runset.filters
        line, bars = grid.panels
        assert isinstance(line, wr.LinePlot) and line.y == ["val/top1"] and line.x == "trainer/global_step"
        assert isinstance(bars, wr.BarPlot) and bars.metrics == ["test/top1"]
        assert "minmax" not in (line.groupby_rangefunc, bars.groupby_rangefunc)


def test_reports_show_the_notebooks_95_percent_intervals(runs):
    """The same numbers as stats.variant_summary / stats.claims_table, i.e. as the notebooks."""
    for name in ablation_names():
        report = wandb_reports.build_report(name, "cpu", "me", "inception-repro", runs)
        text = " ".join(b.text for b in report.blocks if isinstance(b, wr.MarkdownBlock))
        assert "95% Student-t interval" in text and "nan" not in text.lower()
        for v in variant_summary(runs, name, "cpu").itertuples():
            assert f"| {v.variant} | {v.n} | {v.mean:.2f} | {_interval(v.ci_low, v.ci_high, '.2f')} |" in text
        claims = claims_table(runs, "cpu")
        for c in load_ablation(name).claims:
            merged = claims["same_comparison_as"].fillna("").astype(str).str.split(", ").apply(lambda names: c.claim in names)
            row = claims[(claims["claim"] == c.claim) | merged].iloc[0]  # identical comparisons are one row
            assert f"{_interval(row.ci_low, row.ci_high, '+.2f')} | {row.n_seeds} | {row.verdict} |" in text


def _interval(low: float, high: float, spec: str) -> str:
    """A 95% interval as the report writes it; one seed has none."""
    return "n < 2" if math.isnan(low) or math.isnan(high) else f"[{low:{spec}}, {high:{spec}}]"


class FakeApi:
    """wandb.Api().reports(): what the project already holds."""

    def __init__(self, saved):
        self.saved = saved

    def reports(self, path):
        if path != "me/inception-repro":
            raise ValueError(f"Project {path} does not exist")
        return self.saved


def test_a_report_is_saved_over_the_one_of_the_same_title(runs, monkeypatch):
    report = wandb_reports.build_report("aux", "cpu", "me", "inception-repro", runs)
    saved = [SimpleNamespace(id="old", display_name=report.title, updated_at="2026-11-01T00:00:00"),
             SimpleNamespace(id="newer", display_name=report.title, updated_at="2026-11-02T00:00:00"),
             SimpleNamespace(id="other", display_name="Inception-v3 ablation: aux (scale=gpu)", updated_at="2026-12-01")]
    sent = []
    monkeypatch.setattr(wr.Report, "save", lambda self, *a, **k: sent.append(self.id) or self)
    wandb_reports.save_in_place(FakeApi(saved), report)
    assert sent == ["newer"]
    wandb_reports.save_in_place(FakeApi(saved[2:]), report)
    wandb_reports.save_in_place(FakeApi([]), wandb_reports.build_report("aux", "cpu", "you", "new-project", runs))
    assert sent == ["newer", "", ""]  # no report of that title, or no project yet: a new report


def test_without_an_api_key_it_says_so_in_one_line_and_changes_nothing(monkeypatch, no_wandb_login, capsys):
    saved = []
    monkeypatch.setattr(wr.Report, "save", lambda self, *a, **k: saved.append(self))
    assert wandb_reports.main(["aux"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no W&B API key" in err
    assert saved == []


def test_an_unreachable_server_is_one_line(monkeypatch, no_wandb_login, capsys):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    assert wandb_reports.main([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach 127.0.0.1" in err


def test_unknown_ablation_names_the_valid_ones(capsys):
    assert wandb_reports.main(["nope"]) == 2
    assert "valid: " + ", ".join(ablation_names()) in capsys.readouterr().err
