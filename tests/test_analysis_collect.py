"""Run collection, W&B collection, figures and tables (analysis.collect/plots/tables)."""

import json
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from inception_repro.analysis.collect import (  # noqa: E402
    collect_history,
    collect_runs,
    collect_wandb,
    collect_wandb_history,
    complete_runs,
    run_status_counts,
)
from inception_repro.analysis.plots import (  # noqa: E402
    plot_accuracy_vs_cost,
    plot_learning_curves,
    plot_variants,
)
from inception_repro.analysis.comparisons import claims_table  # noqa: E402
from inception_repro.analysis.stats import variant_summary  # noqa: E402
from inception_repro.analysis.tables import markdown_table, write_table  # noqa: E402
from inception_repro.provenance import project_root  # noqa: E402

PROVENANCE_KEYS = {"git_commit", "command", "scale", "date", "machine", "run_dirs", "outputs"}


def summary(ablation, variant, seed, status="complete", scale="cpu", top1=0.8, **extra):
    record = {"status": status, "ablation": ablation, "variant": variant, "seed": seed,
              "scale": scale, "epochs": 2, "params": 1000, "macs": 2.0e6 + 1e6 * (variant == "bn"),
              "config_hash": "abc"}
    if status == "complete":
        record.update(val_top1=top1, val_top5=0.99, test_top1=top1, test_top5=0.99,
                      val_top1_raw=top1 - 0.01, val_top5_raw=0.98, test_top1_raw=top1 - 0.01,
                      test_top5_raw=0.98)
    return {**record, **extra}


def write_run(root, ablation, variant, seed_dir, content, history=True):
    scale = content.get("scale") or "cpu" if isinstance(content, dict) else "cpu"
    run = root / "runs" / scale / ablation / variant / seed_dir
    run.mkdir(parents=True)
    if content is not None:
        text = content if isinstance(content, str) else json.dumps(content)
        (run / "summary.json").write_text(text)
    if history:
        (run / "metrics.csv").write_text(
            "step,epoch,train/loss,val/top1,lr,test/top1,test/top5\n"
            "10,0,2.0,,0.045,,\n"
            "20,0,,0.5,,,\n"
            "30,1,1.5,,0.042,,\n"
            "40,1,,0.7,,,\n"
            "40,2,,,,0.7,0.9\n"  # the test row ends a complete run's history
        )
    (run / "config.yaml").write_text(f"ablation: {ablation}\nvariant: {variant}\n")
    return run


@pytest.fixture
def results(tmp_path):
    """Complete, incomplete, failed, corrupt and missing-summary runs, cpu and gpu scale."""
    for k, (plain, bn) in enumerate([(0.70, 0.72), (0.71, 0.74), (0.69, 0.72)]):
        write_run(tmp_path, "aux", "plain", f"seed{k}", summary("aux", "plain", k, top1=plain))
        write_run(tmp_path, "aux", "bn", f"seed{k}", summary("aux", "bn", k, top1=bn))
    write_run(tmp_path, "aux", "bn", "seed3", summary("aux", "bn", 3, status="incomplete"),
              history=False)
    write_run(tmp_path, "aux", "bn", "seed4",
              summary("aux", "bn", 4, status="failed", test_top1=0.01,
                      failure="non-finite loss at step 123"))
    write_run(tmp_path, "aux", "none", "seed0", '{"status": "complete", "ablat', history=False)
    write_run(tmp_path, "aux", "none", "seed1", None, history=False)
    write_run(tmp_path, "aux", "none", "seed2", "[1, 2]", history=False)
    write_run(tmp_path, "aux", "none", "seed3", {"status": "complete", "variant": "none"})
    write_run(tmp_path, "aux", "plain", "seed5", summary("aux", "bn", 5))  # mislabelled
    write_run(tmp_path, "aux", "plain", "seed6", summary("aux", "plain", 6, test_top1=None))
    write_run(tmp_path, "aux", "plain", "oops", summary("aux", "plain", 7))
    write_run(tmp_path, "label_smoothing", "eps0", "seed0",
              summary("label_smoothing", "eps0", 0, scale="gpu"))
    (tmp_path / "runs" / "cpu" / "aux" / ".ipynb_checkpoints").mkdir()
    return tmp_path


def test_collect_runs_keeps_every_folder_with_a_status(results):
    df = collect_runs(results)
    assert len(df) == 16
    assert {"run_dir", "problem", "test_top1", "config_hash", "failure"} <= set(df.columns)
    counts = df["status"].value_counts().to_dict()
    assert counts == {"complete": 7, "corrupt": 7, "incomplete": 1, "failed": 1}
    corrupt = df[df["status"] == "corrupt"].set_index("run_dir")["problem"]
    assert corrupt.notna().all()
    expected = ["not valid JSON", "summary.json missing", "not a JSON object", "lacks ablation",
                "'oops' is not seed<k>", "folder says 'plain'", "test_top1=None"]
    for e in expected:
        assert any(e in p for p in corrupt), e
    assert df.loc[df["status"] != "corrupt", "problem"].isna().all()
    assert df["seed"].dtype == "Int64"
    assert df.loc[df["status"] == "failed", "failure"].item() == "non-finite loss at step 123"


def test_collect_runs_filters_scale_but_keeps_corrupt(results):
    cpu = collect_runs(results, scale="cpu")
    assert "gpu" not in set(cpu["scale"].dropna())
    assert (cpu["status"] == "corrupt").sum() == 7  # corrupt rows stay visible, at their folder's scale
    gpu = collect_runs(results, scale="gpu")
    assert (gpu["status"] == "complete").sum() == 1


def test_collect_runs_errors_and_empty(tmp_path):
    with pytest.raises(FileNotFoundError):
        collect_runs(tmp_path / "nowhere")
    empty = collect_runs(tmp_path)
    assert empty.empty and "status" in empty.columns
    assert run_status_counts(empty).empty


def test_status_counts_and_statistics_use_only_complete(results):
    df = collect_runs(results, scale="cpu")
    counts = run_status_counts(df).set_index(["ablation", "variant"])
    assert counts.loc[("aux", "bn")].to_dict() == {
        "complete": 3, "incomplete": 1, "failed": 1, "corrupt": 0, "total": 5}
    assert counts.loc[("aux", "none"), "corrupt"] == 4
    assert counts.loc[("aux", "plain"), "corrupt"] == 3
    assert len(complete_runs(df)) == 6
    bn = variant_summary(df, "aux", "cpu").set_index("variant").loc["bn"]
    assert bn["n"] == 3 and bn["mean"] == pytest.approx(72.666666)  # failed 0.01 not averaged
    row = claims_table(df, "cpu").set_index("claim").loc["aux_bn_vs_plain"]
    assert row["n_seeds"] == 3 and row["verdict"] == "supports"


def test_collect_history_is_wide_with_run_identity(results):
    with pytest.warns(UserWarning, match="metrics.csv"):
        history = collect_history(results, scale="cpu")
    assert list(history.columns[:6]) == ["ablation", "variant", "seed", "scale", "status",
                                        "run_dir"]
    assert {"step", "epoch", "train/loss", "val/top1", "lr"} <= set(history.columns)
    assert len(history) == 5 * 7  # 6 complete + 1 failed, 5 rows each; incomplete has no CSV
    assert history["val/top1"].notna().sum() == 2 * 7
    assert set(history["status"]) == {"complete", "failed"}


def test_plots_write_png_svg_and_provenance(results, tmp_path):
    df = collect_runs(results, scale="cpu")
    with pytest.warns(UserWarning):
        history = collect_history(results, scale="cpu")
    out = tmp_path / "figures"
    plots = {
        "aux_variants": plot_variants(df, "aux", "cpu"),
        "aux_curves": plot_learning_curves(history, "aux", "cpu"),
        "cost": plot_accuracy_vs_cost(df, "cpu"),
    }
    for name, plot in plots.items():
        paths = plot.save(name, out_dir=out, command="pytest")
        assert {p.name for p in paths.values()} == {f"{name}.png", f"{name}.svg",
                                                    f"{name}.meta.json"}
        assert all(p.stat().st_size > 0 for p in paths.values())
        meta = json.loads(paths["meta"].read_text())
        assert PROVENANCE_KEYS <= set(meta)
        assert meta["scale"] == "cpu" and meta["command"] == "pytest"
        assert {"node", "platform", "cpu_count"} <= set(meta["machine"])
        assert len(meta["run_dirs"]) == 6
        assert all("seed4" not in r for r in meta["run_dirs"])
        assert plot._repr_png_().startswith(b"\x89PNG")
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []


def test_tables_write_csv_markdown_and_provenance(results, tmp_path):
    table = claims_table(collect_runs(results, scale="cpu"), "cpu")
    paths = write_table(table, "claims_cpu", out_dir=tmp_path / "tables", command="pytest")
    assert pd.read_csv(paths[".csv"])["claim"].tolist() == table["claim"].tolist()
    md = paths[".md"].read_text().splitlines()
    assert md[0].startswith("| claim | paper_section | paper_delta |")
    assert md[1].startswith("| --- | --- | ---: |")
    assert len(md) == len(table) + 2
    meta = json.loads(paths["meta"].read_text())
    assert PROVENANCE_KEYS <= set(meta) and len(meta["run_dirs"]) == 6
    inside = project_root() / "results" / "runs" / "cpu" / "aux" / "bn" / "seed0"
    paths = write_table(pd.DataFrame({"a": [1]}), "x", scale="cpu", out_dir=tmp_path,
                        run_dirs=[str(inside), "https://wandb.example/r/1"])
    assert json.loads(paths["meta"].read_text())["run_dirs"] == [
        "https://wandb.example/r/1", "results/runs/cpu/aux/bn/seed0"]
    with pytest.raises(ValueError, match="scale= and run_dirs="):
        write_table(pd.DataFrame({"a": [1]}), "x", out_dir=tmp_path)


def test_markdown_table_formatting():
    df = pd.DataFrame({"name": ["a|b", None], "n": [3, 4], "x": [0.123456, float("nan")]})
    assert markdown_table(df, ".3f") == (
        "| name | n | x |\n| --- | ---: | ---: |\n| a\\|b | 3 | 0.123 |\n|  | 4 |  |\n")


class FakeApi:
    def __init__(self, runs):
        self._runs = runs

    def runs(self, path):
        assert path == "me/inception"
        return self._runs


def fake_run(run_id, state, config=None, summary=None, tags=()):
    return SimpleNamespace(id=run_id, state=state, config=config or {}, summary=summary or {},
                           tags=list(tags), url=f"https://wandb.example/me/inception/runs/{run_id}")


def test_collect_wandb_builds_the_same_table():
    runs = [
        fake_run("a1", "finished", config={"ablation": "aux", "variant": "bn", "seed": 0,
                                           "scale": {"name": "cpu", "epochs": 2}},
                 summary={"val/top1": 0.7, "val/top5": 0.9, "test/top1": 0.71, "test/top5": 0.91}),
        fake_run("a2", "crashed", tags=["ablation:aux", "variant:plain", "seed:1", "scale:cpu"],
                 summary={"failure": "non-finite loss at step 3"}),
        fake_run("a3", "running", config={"ablation": "aux", "variant": "plain", "seed": 2}),
        fake_run("a4", "finished", config={"variant": "plain"}),
        fake_run("a5", "finished", config={"ablation": "aux", "variant": "none", "seed": 0,
                                           "scale": "cpu"}),
    ]
    df = collect_wandb("me", "inception", api=FakeApi(runs)).set_index("run_dir")
    url = "https://wandb.example/me/inception/runs/"
    assert df.loc[url + "a1", "status"] == "complete"
    assert df.loc[url + "a1", "scale"] == "cpu"
    assert df.loc[url + "a1", "test_top1"] == pytest.approx(0.71)
    assert df.loc[url + "a2", "status"] == "failed" and df.loc[url + "a2", "seed"] == 1
    assert df.loc[url + "a3", "status"] == "incomplete"
    assert df.loc[url + "a4", "status"] == "corrupt"
    assert "lacks ablation, seed" in df.loc[url + "a4", "problem"]
    assert df.loc[url + "a5", "status"] == "corrupt"  # finished but no metrics


def test_collect_wandb_error_is_one_line_runtime_error():
    class Offline:
        def runs(self, path):
            raise ConnectionError("no network\nlong traceback text")

    with pytest.raises(RuntimeError) as err:
        collect_wandb("me", "inception", api=Offline())
    assert "\n" not in str(err.value) and "me/inception" in str(err.value)
    assert "ConnectionError: no network" in str(err.value)


def test_collect_wandb_history_reads_logged_rows_of_sound_runs_of_one_scale():
    logged = [{"trainer/global_step": 10, "epoch": 0, "val/top1": 0.5},
              {"trainer/global_step": 20, "epoch": 1, "val/top1": 0.7}]
    done = fake_run("a1", "finished", config={"ablation": "aux", "variant": "bn", "seed": 0,
                                              "scale": {"name": "cpu"}},
                    summary={"val/top1": 0.7, "val/top5": 0.9, "test/top1": 0.71, "test/top5": 0.91})
    done.scan_history = lambda: iter(logged)
    other = fake_run("a2", "running", config={"ablation": "aux", "variant": "bn", "seed": 1,
                                              "scale": {"name": "gpu"}})
    broken = fake_run("a3", "finished", config={"variant": "plain"})
    history = collect_wandb_history("me", "inception", scale="cpu", api=FakeApi([done, other, broken]))
    assert list(history["step"]) == [10, 20] and list(history["val/top1"]) == [0.5, 0.7]
    assert set(history["run_dir"]) == {done.url} and (history["status"] == "complete").all()
    plot = plot_learning_curves(history, "aux", "cpu", x="step")
    assert plot.run_dirs == [done.url]


def test_collect_wandb_history_error_is_one_line_runtime_error():
    class Offline:
        def runs(self, path):
            raise ConnectionError("no network\nmore")

    with pytest.raises(RuntimeError, match=r"^cannot read W&B history of me/inception: ConnectionError: no network$"):
        collect_wandb_history("me", "inception", api=Offline())
