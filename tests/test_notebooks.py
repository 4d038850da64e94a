"""Every ablation variant trains and records its run; the notebooks, executed by papermill against
those records.

One session trains the whole study's grid once (tiny runs, 2 seeds), checks every variant's record,
then runs each notebook with its parameters pointed at those records and a temporary output folder,
and checks the tables and figures it writes against the run records themselves.
"""

from __future__ import annotations

import json
import math
import re
import shutil

import nbformat
import pandas as pd
import papermill as pm
import pytest
import yaml
from ipykernel.kernelspec import install as install_kernel

from inception_repro import ablate
from inception_repro.ablations import ablation_names, all_claims, load_ablation
from inception_repro.analysis.notebooks import ablation_notebook
from inception_repro.analysis.paper import TABLE2_TOP1_ACC
from inception_repro.analysis.comparisons import CLAIMS_COLUMNS
from inception_repro.analysis import cost_table
from inception_repro.config import compose_run
from inception_repro.models import InceptionConfig
from inception_repro.provenance import project_root

from conftest import TINIER_SUBSETS, needs_fashion_mnist, tiny_run_overrides

# Training 34 tiny runs (42 records: the shared ones are copies) and executing the notebooks take
# about 2 minutes on one idle core; on a machine shared with other training that can take many
# times longer, so the hang guard is generous.
pytestmark = [needs_fashion_mnist, pytest.mark.slow, pytest.mark.timeout(3600)]

NOTEBOOKS = sorted((project_root() / "notebooks").glob("*.ipynb"))
KERNEL = "inception-repro"
SEEDS = 2
VERDICTS = {"supports", "contradicts", "inconclusive"}
N_RUNS = SEEDS * sum(len(load_ablation(a).variants) for a in ablation_names())


@pytest.fixture(scope="session")
def kernel(tmp_path_factory):
    """The notebooks' kernel, registered for this interpreter as `make setup` registers it."""
    prefix = tmp_path_factory.mktemp("jupyter")
    install_kernel(kernel_name=KERNEL, display_name=KERNEL, prefix=str(prefix))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
        yield KERNEL


@pytest.fixture(scope="session")
def trained(tmp_path_factory, fmnist_cache):
    """The whole study as one grid (each config trained once, the rest shared as `make ablations`
    does), really trained (tiny runs), plus one run folder with a corrupt record."""
    results = tmp_path_factory.mktemp("results")
    overrides = [*tiny_run_overrides(results, fmnist_cache), *TINIER_SUBSETS]
    assert ablate.main(["all", "--seeds", str(SEEDS), "--", *overrides]) == 0
    broken = results / "runs" / "cpu" / "aux" / "bn" / "seed9"
    broken.mkdir()
    (broken / "summary.json").write_text('{"status": "comp')
    return results


SUMMARY_KEYS = {
    "status", "ablation", "variant", "seed", "scale", "val_top1", "val_top5", "test_top1", "test_top5",
    "val_top1_raw", "val_top5_raw", "test_top1_raw", "test_top5_raw", "epochs", "wall_time_s",
    "train_images_per_s", "params", "macs", "git_commit", "torch_version", "device", "started_at", "finished_at",
    "grid_sizes", "cpu",
}


def test_every_ablation_variant_trains_and_records_a_run(trained):
    """Each variant x seed of the study has a complete record; a config two grids share is trained
    once (its checkpoint beside the record that trained it) and recorded under each."""
    runs = trained / "runs" / "cpu"
    for ablation in ablation_names():
        for variant in load_ablation(ablation).variants:
            for seed in range(SEEDS):
                run_dir = runs / ablation / variant / f"seed{seed}"
                on_disk = json.loads((run_dir / "summary.json").read_text())
                assert on_disk["status"] == "complete" and SUMMARY_KEYS <= on_disk.keys(), run_dir
                config = yaml.safe_load((run_dir / "config.yaml").read_text())
                assert (config["ablation"], config["variant"], config["seed"]) == (ablation, variant, seed)
                assert on_disk["grid_sizes"] == InceptionConfig.from_dict(config["model"]).grid_sizes
                for key in ("val_top1", "val_top5", "test_top1", "test_top5", "test_top1_raw"):
                    assert 0.0 <= on_disk[key] <= 1.0
                header = (run_dir / "metrics.csv").read_text().splitlines()[0].split(",")
                assert {"step", "train/loss", "val/top1", "lr"} <= set(header)
                trained_in = runs / on_disk["shared_from"] if "shared_from" in on_disk else run_dir
                assert (trained_in / "checkpoints" / "last.ckpt").exists(), run_dir


def execute(notebook, results, out, kernel):
    path = out / "notebooks" / notebook.name
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(notebook, path, parameters={"results_dir": str(results), "output_dir": str(out)},
                        kernel_name=kernel, progress_bar=False)
    return nbformat.read(path, as_version=4)


def shown(nb) -> list[str]:
    """The plain text of every output of every code cell, in order."""
    return [o.get("text", "") + o.get("data", {}).get("text/plain", "")
            for cell in nb.cells for o in cell.get("outputs", [])]


@pytest.fixture(scope="session")
def executed(trained, kernel, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    cost_table.main(["--out-dir", str(out / "tables")])
    return out, {nb.stem: execute(nb, trained, out, kernel) for nb in NOTEBOOKS}


def table(out, name) -> pd.DataFrame:
    return pd.read_csv(out / "tables" / f"{name}.csv", dtype={"variant": str})


def test_the_notebooks_are_the_ones_the_readme_links():
    names = [nb.stem for nb in NOTEBOOKS]
    assert names == sorted(["00_summary", "costs", *ablation_names()])  # one per ablation YAML
    readme = (project_root() / "README.md").read_text()
    docs = (project_root() / "docs" / "notebooks.md").read_text()
    for nb in NOTEBOOKS:
        cells = nbformat.read(nb, as_version=4).cells
        assert [c for c in cells if "parameters" in c.metadata.get("tags", [])], nb.name
        assert nbformat.read(nb, as_version=4).metadata.kernelspec.name == KERNEL
        assert f"notebooks/{nb.name}" in (readme if nb.stem in ablation_names() else docs), nb.name


def test_each_ablation_notebook_is_the_one_its_yaml_writes():
    for name in ablation_names():
        committed = nbformat.read(project_root() / "notebooks" / f"{name}.ipynb", as_version=4).cells
        written = ablation_notebook(load_ablation(name)).cells
        assert [(c.cell_type, c.source) for c in committed] == [(c.cell_type, c.source) for c in written], name


def test_every_notebook_runs_and_shows_every_table_and_figure(executed):
    _, notebooks = executed
    for name, nb in notebooks.items():
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.execution_count for c in code), name
        assert not [o for c in code for o in c.outputs if o.output_type == "error"], name
        texts = shown(nb)
        assert texts[0].startswith(f"{N_RUNS + 1} runs at scale cpu"), name  # the study line
        assert not [t for t in texts if t.startswith("No ")], name  # every ablation has runs here
        images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
        assert images, name


def test_claims_table_matches_the_run_records(executed, trained):
    out, notebooks = executed
    claims = table(out, "claims")
    assert tuple(claims.columns) == CLAIMS_COLUMNS
    # table3's rungs keep the paper's stems (17 / 8 / 3 grids at the cpu scale), aux the light stem:
    # its last rung is not the same pair of configs as aux's bn vs plain, so every claim has its row
    assert list(claims["claim"]) == [c.claim for c in all_claims()]
    assert (claims["n_seeds"] == SEEDS).all() and (claims["scale"] == "cpu").all()
    assert set(claims["verdict"]) <= VERDICTS
    meta = json.loads((out / "tables" / "claims.meta.json").read_text())
    assert meta["scale"] == "cpu" and len(meta["run_dirs"]) == N_RUNS
    assert not [d for d in meta["run_dirs"] if d.endswith("seed9")]

    def top1(variant, seed):
        record = trained / "runs" / "cpu" / "aux" / variant / f"seed{seed}" / "summary.json"
        return json.loads(record.read_text())["test_top1"]

    deltas = [100 * (top1("bn", k) - top1("plain", k)) for k in range(SEEDS)]
    row = claims.set_index("claim").loc["aux_bn_vs_plain"]
    assert row["ours_delta"] == pytest.approx(sum(deltas) / SEEDS)
    assert row["paper_delta"] == pytest.approx(0.4)
    assert pd.isna(row["same_comparison_as"]) or row["same_comparison_as"] == ""
    if deltas[0] == deltas[1]:  # no spread over the seeds: no zero-width interval
        assert math.isnan(row["ci_low"]) and math.isnan(row["ci_high"])
    else:
        assert row["ci_low"] <= row["ours_delta"] <= row["ci_high"]
    summary = shown(notebooks["00_summary"])
    assert summary[1].startswith("**What this study can and cannot conclude** (scale `cpu`")
    assert "**The verdict rule, dated " in summary[2]


def test_tables_show_fixed_decimals_without_index_or_missing_value_noise(executed):
    _, notebooks = executed
    for name, nb in notebooks.items():
        for text in shown(nb):
            assert not re.search(r"\bNaN\b|<NA>|\d\.\d+e[-+]\d", text), (name, text[:300])
            assert not text.startswith("Plot("), name
    shown_claims = next(t for t in shown(notebooks["00_summary"]) if t.startswith("| claim |"))
    assert shown_claims.splitlines()[1].startswith("| --- |")  # a Markdown table: no index column


def test_incomplete_and_corrupt_runs_are_listed_and_never_averaged(executed):
    out, _ = executed
    status = table(out, "run_status").set_index(["ablation", "variant"])
    assert status["total"].sum() == N_RUNS + 1
    bn = status.loc[("aux", "bn")]
    assert (bn["complete"], bn["corrupt"]) == (SEEDS, 1)
    assert "seed9: corrupt" in bn["not complete"]
    assert list(status.loc["aux"].index) == list(load_ablation("aux").variants)  # the yaml's order
    aux = table(out, "aux_test_top1").set_index("variant")
    assert list(aux.index) == ["none", "plain", "bn"] and (aux["n"] == SEEDS).all()
    assert aux["delta_mean"].isna().tolist() == [False, True, False]  # `plain` is the control


def test_per_claim_tables(executed):
    out, notebooks = executed
    overtake = table(out, "aux_overtake")
    assert list(overtake["evaluation"]) == ["first evaluation", "last evaluation"] * 2
    assert (overtake["n_seeds"] == SEEDS).all() and set(overtake["verdict"]) <= VERDICTS
    assert overtake["step"].iloc[0] < overtake["step"].iloc[1]  # validated twice per run

    t2 = table(out, "table2")
    sizes = compose_run(["scale=cpu"]).scale.input_sizes
    assert list(t2["resolution"]) == [79, 151, 299] and list(t2["input_px"]) == [sizes[v] for v in ("79", "151", "299")]
    assert list(t2["paper_top1"]) == [TABLE2_TOP1_ACC[v] for v in ("79", "151", "299")]
    assert (t2["n"] == SEEDS).all() and t2["ours_macs_M"].gt(0).all()
    assert table(out, "table3")["paper_scale_macs_G"].gt(0).all()
    assert any(t.startswith("**Table 3's cost column and our count disagree.**") for t in shown(notebooks["table3"]))
    assert any(t.startswith("**The paper's savings are per convolution") for t in shown(notebooks["factorization"]))

    t3 = table(out, "table3")
    assert list(t3["variant"]) == list(load_ablation("table3").variants)
    assert list(t3["paper_top1_err"]) == [23.4, 23.1, 22.8, 21.6, 21.2]
    assert t3["verdict"].fillna("").tolist()[0] == "" and set(t3["verdict"][1:]) <= VERDICTS

    costs = table(out, "costs")
    assert len(costs) == N_RUNS // SEEDS
    assert costs["paper_scale_macs_G"].notna().all() and costs["ours_macs_M"].notna().all()
    assert set(table(out, "factorization_costs")["variant"]) == set(load_ablation("factorization").variants)

    for name in ("label_smoothing_test_top5", "optimizer_test_top1", "resolution_claims"):
        assert (table(out, name)["scale"] == "cpu").all()


def test_figures_are_written_with_provenance(executed):
    out, _ = executed
    names = ["claims", "aux_curves", "label_smoothing_curves", "fig2_curves",
             *(f"{a}_variants" for a in ablation_names()),
             *(f"{a}_accuracy_vs_cost" for a in ("resolution", "factorization", "table3"))]
    for name in names:
        for suffix in (".png", ".svg", ".meta.json"):
            assert (out / "figures" / f"{name}{suffix}").stat().st_size > 0, name + suffix
        assert json.loads((out / "figures" / f"{name}.meta.json").read_text())["scale"] == "cpu"


def test_ablations_without_runs_and_an_empty_folder_say_so_in_one_line(trained, kernel, tmp_path):
    only_aux = tmp_path / "only_aux"
    shutil.copytree(trained / "runs" / "cpu" / "aux", only_aux / "runs" / "cpu" / "aux")
    nb = execute(project_root() / "notebooks" / "resolution.ipynb", only_aux, tmp_path / "out_aux", kernel)
    texts = shown(nb)
    assert "No complete runs for ablation 'resolution' at scale cpu yet" in texts[1]
    assert all(t.startswith("No ") for t in texts[1:]), texts

    empty = tmp_path / "empty"
    empty.mkdir()
    nb = execute(NOTEBOOKS[0], empty, tmp_path / "out_empty", kernel)
    texts = shown(nb)
    assert texts[0].startswith("No run records at scale cpu in") and "\n" not in texts[0].strip()
    assert not (tmp_path / "out_empty" / "tables").exists()
