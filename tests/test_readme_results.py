"""README's Results section is results/ copied, never typed (analysis/readme_results.py)."""

from __future__ import annotations

import json
import shutil

import pandas as pd

from inception_repro.analysis.readme_results import BEGIN, END, main
from inception_repro.cli import run_cli
from inception_repro.provenance import project_root

ROOT = project_root()


def test_the_committed_readme_shows_what_results_holds():
    assert main(["--check"]) == 0, "run `make notebooks` (or python -m inception_repro.analysis.readme_results)"


def _project_copy(tmp_path, readme: str):
    """README and docs/results.md (both `readme`) plus the committed tables, figures and run
    records (config and summary only)."""
    shutil.copytree(ROOT / "results" / "tables", tmp_path / "results" / "tables")
    shutil.copytree(ROOT / "results" / "figures", tmp_path / "results" / "figures")
    shutil.copytree(ROOT / "results" / "bench", tmp_path / "results" / "bench")
    for summary in (ROOT / "results" / "runs").glob("*/*/*/seed*/summary.json"):
        run = tmp_path / summary.parent.relative_to(ROOT)
        run.mkdir(parents=True)
        for name in ("summary.json", "config.yaml"):
            shutil.copy(summary.parent / name, run / name)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "results.md").write_text(readme)
    (tmp_path / "README.md").write_text(readme)
    return tmp_path / "README.md"


def test_the_section_is_rewritten_between_the_markers_and_a_change_in_results_is_caught(tmp_path, capsys):
    readme = _project_copy(tmp_path, f"# Title\n\n{BEGIN}\nold text\n{END}\n\n## After\n")
    assert main(["--root", str(tmp_path), "--check"]) == 1
    assert main(["--root", str(tmp_path)]) == 0
    text, full = readme.read_text(), (tmp_path / "docs" / "results.md").read_text()
    claims = (tmp_path / "results" / "tables" / "claims.md").read_text().strip()
    for written in (text, full):
        assert written.startswith("# Title\n\n") and written.endswith(f"{END}\n\n## After\n")
        assert "old text" not in written and "**What this study can and cannot conclude** (scale `cpu`" in written
        assert "![Every claim" in written
    assert "(results/figures/claims.png)" in text and "(../results/figures/claims.png)" in full  # each from its folder
    assert claims in full and "**The verdict rule, dated 2026-12-01**" in full
    px = " / ".join(pd.read_csv(tmp_path / "results" / "tables" / "table2.csv")["input_px"].astype(str))
    assert f"at scale `cpu` they see {px} px inputs" in full  # from table2.csv
    aux_runs = len(list((tmp_path / "results" / "runs" / "cpu" / "aux").glob("*/seed*/summary.json")))
    assert f"- `aux`: {aux_runs} runs, scale `cpu`, width " in full  # the runs of one commit
    assert main(["--root", str(tmp_path)]) == 0 and readme.read_text() == text  # idempotent
    assert "up to date" in capsys.readouterr().out

    table = tmp_path / "results" / "tables" / "claims.md"
    table.write_text(claims.replace("| cpu |", "| gpu |", 1))
    assert main(["--root", str(tmp_path), "--check"]) == 1


def test_the_provenance_names_the_commit_that_made_the_runs_and_a_missing_run_is_one_line(tmp_path, capsys):
    readme = _project_copy(tmp_path, f"{BEGIN}\n{END}\n")
    meta = json.loads((tmp_path / "results" / "tables" / "claims.meta.json").read_text())
    commits = {json.loads((tmp_path / run / "summary.json").read_text())["git_commit"][:7] for run in meta["run_dirs"]}
    assert main(["--root", str(tmp_path)]) == 0
    assert f"runs of commit {', '.join(f'`{c}`' for c in sorted(commits))}, tables written at commit " \
           f"`{meta['git_commit'][:7]}`" in readme.read_text()

    shutil.rmtree(tmp_path / meta["run_dirs"][0])
    capsys.readouterr()
    assert run_cli(main, ["--root", str(tmp_path)]) == 2  # the module's entry point
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{meta['run_dirs'][0]}: the run behind results/tables is gone" in err


def test_a_project_without_a_claims_table_gets_one_line_naming_make_notebooks(tmp_path, capsys):
    (tmp_path / "README.md").write_text(f"{BEGIN}\n{END}\n")
    assert run_cli(main, ["--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no claims table" in err and "make notebooks" in err
    assert (tmp_path / "README.md").read_text() == f"{BEGIN}\n{END}\n"


def test_a_readme_without_markers_is_left_alone(tmp_path, capsys):
    readme = _project_copy(tmp_path, "# Title\n")
    assert main(["--root", str(tmp_path)]) == 2
    assert readme.read_text() == "# Title\n"
    assert "no results markers" in capsys.readouterr().err


def test_the_study_scale_is_the_design_the_probes_chose():
    import yaml
    from omegaconf import OmegaConf

    from inception_repro.analysis.probe_section import PROBES, probe_choice
    from inception_repro.config import compose_run

    best = probe_choice(json.loads((project_root() / PROBES).read_text()))
    cfg = compose_run(["scale=cpu"])
    for override in best["overrides"]:
        key, value = override.split("=", 1)
        assert OmegaConf.select(cfg, key) == yaml.safe_load(value), override


def test_the_study_cost_counts_each_config_once_per_seed_when_ablations_have_different_seeds():
    from inception_repro.analysis.run_records import study_cost

    def run(ablation, variant, seed, wall, **extra):
        return {}, {"ablation": ablation, "variant": variant, "seed": seed, "wall_time_s": wall, **extra}

    records = [run("aux", "none", 0, 100.0), run("aux", "none", 1, 300.0), run("aux", "bn", 0, 400.0),
               run("aux", "bn", 1, 200.0), run("optimizer", "rmsprop", 0, 400.0, shared_from="aux/bn/seed0"),
               run("resolution", "79", 0, 1800.0)]
    claims = pd.DataFrame({"n_seeds": [1], "paired_sd_pp": [float("nan")]})
    text = study_cost(ROOT / "missing", records, claims)
    # configs: aux/none (mean 200 s), aux/bn (300 s), resolution/79 (1800 s): 2300 s per seed
    assert "6 records of 1 to 2 seeds per ablation, 5 trained and 1 shared" in text
    assert "one seed of the 3 configs recorded so far, each at its mean time, is 0.6 core-hours" in text
