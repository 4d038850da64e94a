"""`make report`: the W&B report of each ablation, built offline and inspected (never saved)."""

from __future__ import annotations

from wandb_workspaces.reports import v2 as wr

from inception_repro.ablations import ablation_names, load_ablation
from inception_repro.analysis import wandb_reports
from inception_repro.analysis.paper import CLAIMS


def test_every_ablation_has_a_report_of_its_runs_grouped_by_variant():
    for name in ablation_names():
        report = wandb_reports.build_report(name, "cpu", "me", "inception-repro")
        assert (report.entity, report.project) == ("me", "inception-repro")
        assert name in report.title and "scale=cpu" in report.title
        text = " ".join(b.text for b in report.blocks if isinstance(b, wr.MarkdownBlock))
        assert load_ablation(name).paper_section in text
        assert all(f"`{c.variant}` vs `{c.control}`" in text for c in CLAIMS if c.ablation == name)
        (grid,) = [b for b in report.blocks if isinstance(b, wr.PanelGrid)]
        (runset,) = grid.runsets
        assert (runset.entity, runset.project, runset.groupby) == ("me", "inception-repro", ["config.variant"])
        assert f"'{name}'" in runset.filters and "ablation" in runset.filters
        assert "scale.name" in runset.filters and "'cpu'" in runset.filters
        line, bars = grid.panels
        assert isinstance(line, wr.LinePlot) and line.y == ["val/top1"] and line.x == "trainer/global_step"
        assert isinstance(bars, wr.BarPlot) and bars.metrics == ["test/top1"]


def test_without_an_api_key_it_says_so_in_one_line_and_changes_nothing(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    saved = []
    monkeypatch.setattr(wr.Report, "save", lambda self, *a, **k: saved.append(self))
    assert wandb_reports.main(["aux"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no W&B API key" in err
    assert saved == []


def test_an_unreachable_server_is_one_line(monkeypatch, capsys):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    assert wandb_reports.main([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach 127.0.0.1" in err


def test_unknown_ablation_names_the_valid_ones(capsys):
    assert wandb_reports.main(["nope"]) == 2
    assert "valid: " + ", ".join(ablation_names()) in capsys.readouterr().err
