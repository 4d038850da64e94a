"""An ablation is one YAML: a new configs/ablations/<name>.yaml in a copy of configs/ (pointed at by
$INCEPTION_REPRO_CONFIGS) is listed, composed, trained, its claim computed and its notebook written,
with no other file touched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from inception_repro.ablations import load_ablation
from inception_repro.errors import ConfigError

from conftest import TINIER_SUBSETS, needs_fashion_mnist, tiny_run_overrides

ROOT = Path(__file__).resolve().parents[1]
NEW = """\
name: more_smoothing
paper_section: "§7"
claim: More label smoothing than the paper's eps = 0.1 (a made-up ablation for this test).
control: eps0
variants:
  eps0: [loss.label_smoothing=0.0]
  eps0.3: [loss.label_smoothing=0.3]
claims:
  - id: more_smoothing_helps
    paper_section: "§7"
    control: eps0
    variant: eps0.3
    direction: better
    statement: A made-up claim that eps = 0.3 beats hard targets.
"""
CLAIM_ROW = """\
from inception_repro.analysis.collect import collect_runs
from inception_repro.analysis.comparisons import claims_table
table = claims_table(collect_runs(sys.argv[1], "cpu"), "cpu").set_index("claim")
print(table.loc["more_smoothing_helps", ["n_seeds", "verdict"]].to_json())
"""


def _run(configs: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "INCEPTION_REPRO_CONFIGS": str(configs), "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


@pytest.mark.slow
@needs_fashion_mnist
def test_a_new_ablation_yaml_is_picked_up_end_to_end(tmp_path, fmnist_cache):
    configs = tmp_path / "configs"
    shutil.copytree(ROOT / "configs", configs)
    (configs / "ablations" / "more_smoothing.yaml").write_text(NEW)

    planned = _run(configs, "make", "-s", "-n", "-o", ".venv/.installed", "ablations").stdout
    assert ".venv/bin/python -m inception_repro.ablate all" in planned  # `make ablations`: every ablation YAML
    every = _run(configs, sys.executable, "-c", "from inception_repro.ablate import parse_ablations; "
                 "print(' '.join(parse_ablations(['all'])))").stdout.split()
    assert "more_smoothing" in every and "aux" in every

    results = tmp_path / "results"
    _run(configs, sys.executable, "-m", "inception_repro.ablate", "more_smoothing", "--seeds", "0,1", "--",
         *tiny_run_overrides(results, fmnist_cache), *TINIER_SUBSETS)
    for variant, eps in (("eps0", 0.0), ("eps0.3", 0.3)):
        for seed in (0, 1):
            run = results / "runs" / "cpu" / "more_smoothing" / variant / f"seed{seed}"
            assert json.loads((run / "summary.json").read_text())["status"] == "complete"
            assert f"label_smoothing: {eps}" in (run / "config.yaml").read_text()  # composed from the YAML

    row = json.loads(_run(configs, sys.executable, "-c", "import sys\n" + CLAIM_ROW, str(results)).stdout)
    assert row["n_seeds"] == 2 and row["verdict"] in {"supports", "contradicts", "inconclusive"}

    _run(configs, sys.executable, "-m", "inception_repro.analysis.notebooks", "--out", str(tmp_path / "notebooks"))
    cells = nbformat.read(tmp_path / "notebooks" / "more_smoothing.ipynb", as_version=4).cells
    assert "More label smoothing" in cells[0].source
    assert 'report.claims(study, \'more_smoothing\')' in [c.source for c in cells]


def test_a_claim_on_a_variant_the_file_lacks_or_without_a_direction_is_one_clear_error(tmp_path):
    (tmp_path / "ablations").mkdir()
    path = tmp_path / "ablations" / "more_smoothing.yaml"
    path.write_text(NEW.replace("variant: eps0.3", "variant: eps0.5"))
    with pytest.raises(ConfigError, match="claim 'more_smoothing_helps' compares variants that are not in the file"):
        load_ablation("more_smoothing", tmp_path)
    path.write_text(NEW.replace("    direction: better\n", ""))
    with pytest.raises(ConfigError, match="claim 'more_smoothing_helps' lacks 'direction' \\(required: id, "):
        load_ablation("more_smoothing", tmp_path)
    path.write_text(NEW)
    (claim,) = load_ablation("more_smoothing", tmp_path).claims
    assert (claim.ablation, claim.control, claim.variant, claim.direction, claim.paper_delta) == (
        "more_smoothing", "eps0", "eps0.3", +1, None)
