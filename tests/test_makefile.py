"""The Makefile's variables (ARGS, SEEDS, SCALE, FORCE, RETRY_FAILED, LAUNCHER) reach every ablation
target in an order the ablate command parses: the ablation first, the config overrides last."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from inception_repro import ablate
from inception_repro.ablations import ablation_names

from conftest import needs_fashion_mnist, run_folder, tiny_run_overrides

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {name.replace("_", "-"): name for name in ablation_names()}  # one per configs/ablations/*.yaml
STAMP = ".venv/.installed"  # `-o`: the venv counts as set up, so `make` runs only the target's command


def _make(*args: str, dry: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(["make", "-s", *(["-n"] if dry else []), "-o", STAMP, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def _ablate_argv(*args: str) -> list[str]:
    done = _make(*args)
    assert done.returncode == 0, done.stderr
    provide, target = done.stdout.strip().splitlines()  # the data first (make data), then the target
    assert shlex.split(provide)[:3] == [".venv/bin/python", "-m", "inception_repro.data.provide"], done.stdout
    command = shlex.split(target)
    assert command[:3] == [".venv/bin/python", "-m", "inception_repro.ablate"], done.stdout
    return command[3:]


@pytest.mark.parametrize(("target", "ablation"), TARGETS.items())
def test_every_variable_reaches_every_ablation_target(target, ablation):
    assert _ablate_argv(f"ablation-{target}") == [ablation]
    argv = _ablate_argv(f"ablation-{target}", "SCALE=gpu", "SEEDS=0,2", "FORCE=1", "RETRY_FAILED=1", "LAUNCHER=slurm",
                        "ARGS=logger=none data.root=/data/imagenette hydra.launcher.partition=gpu")
    assert argv == [ablation, "--scale", "gpu", "--seeds", "0,2", "--force", "--retry-failed", "--launcher", "slurm",
                    "--", "logger=none", "data.root=/data/imagenette", "hydra.launcher.partition=gpu"]


def test_the_readme_examples_parse(tmp_path):
    """What `make ablation-aux ARGS=...` runs is a command line the ablate parser accepts."""
    argv = _ablate_argv("ablation-aux", "SEEDS=1", "ARGS=logger=none data.download=true")
    assert argv == ["aux", "--seeds", "1", "--", "logger=none", "data.download=true"]
    planned = ablate.plan_grid(["aux"], "cpu", "1", [*argv[4:], f"results_dir={tmp_path}", "allow_outside_results=true"],
                               force=False)
    assert [run.variant for run in planned] == ["none", "plain", "bn"]


@pytest.mark.parametrize("value", ["yes", "true", "2"])
def test_a_force_value_other_than_1_is_one_clear_line(value):
    done = _make("ablation-aux", f"FORCE={value}")
    assert done.returncode == 2 and f"error: FORCE={value} is not allowed; use FORCE=1 or leave it unset" in done.stderr


def test_make_ablations_runs_the_whole_study_as_one_grid():
    done = _make("ablations", "JOBS=3")
    assert done.returncode == 0, done.stderr
    (line,) = [shlex.split(line) for line in done.stdout.splitlines() if "inception_repro.ablate" in line]
    assert line[3:] == ["all", "--jobs", "3"]
    assert set(ablate.parse_ablations(["all"])) == set(ablation_names())


def test_args_reach_pytest_and_only_data_overrides_reach_the_data_provider():
    provide, pytest_line = _make("test", "ARGS=-x -q tests/test_cli.py").stdout.strip().splitlines()
    assert provide.strip() == ".venv/bin/python -m inception_repro.data.provide"
    assert pytest_line == ".venv/bin/python -m pytest -x -q tests/test_cli.py"
    provide = _make("ablation-aux", "ARGS=logger=none data.root=/srv/fmnist").stdout.splitlines()[0]
    assert shlex.split(provide)[3:] == ["data.root=/srv/fmnist"]


@pytest.mark.slow
@needs_fashion_mnist
def test_a_real_tiny_make_ablation_with_args(tmp_path, fmnist_cache):
    overrides = tiny_run_overrides(tmp_path, fmnist_cache)
    done = _make("ablation-label-smoothing", "SEEDS=1", "SCALE=cpu", f"ARGS={' '.join(overrides)}", dry=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    for variant in ("eps0", "eps0.1"):
        assert json.loads((run_folder(tmp_path, "label_smoothing", variant) / "summary.json").read_text())["status"] == "complete"
