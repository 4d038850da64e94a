"""Grids as job arrays (hydra-submitit-launcher): launcher configs, the sweep, submitit's local executor."""

from __future__ import annotations

import json

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from inception_repro import ablate
from inception_repro.config import compose_run
from inception_repro.paths import CONFIG_DIR
from inception_repro.slurm import is_hydra_override, sweep_overrides

from conftest import TINIER_SUBSETS, needs_fashion_mnist, tiny_run_overrides


def _hydra(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose("train", overrides=overrides, return_hydra_config=True)


def test_slurm_launcher_config_and_fixed_folders():
    cfg = _hydra(["scale=cpu", "ablation=aux", "variant=bn", "trainer.devices=4", "trainer.num_nodes=2", "hydra/launcher=slurm"])
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.tasks_per_node, launcher.nodes) == (4, 2)  # one srun task per device
    assert launcher.max_num_timeout > 0  # submitit requeues on timeout, the job resumes from last.ckpt
    assert cfg.hydra.sweep.dir == "results/local/launcher/cpu/aux" and cfg.hydra.sweep.subdir == "bn/seed0"
    assert _hydra(["hydra/launcher=local"]).hydra.launcher._target_.endswith("LocalLauncher")


def test_the_launcher_touches_only_hydras_own_config():
    run = ["scale=cpu", "ablation=aux", "variant=bn"]
    with_launcher = OmegaConf.to_container(_hydra([*run, "hydra/launcher=slurm", "hydra.launcher.partition=gpu"]))
    without = OmegaConf.to_container(_hydra(run))
    assert with_launcher.pop("hydra") != without.pop("hydra")
    assert with_launcher == without
    assert not {"hydra", "launcher"} & set(compose_run(run))


def test_sweep_covers_the_runs_to_train(tmp_path):
    planned = ablate.plan_grid(["aux"], "cpu", "2", [f"results_dir={tmp_path}", "allow_outside_results=true"], force=False)
    overrides = sweep_overrides(planned, "slurm", ["logger=none", "hydra.launcher.partition=gpu"])
    assert overrides == [
        "ablation=aux", "variant=none,plain,bn", "seed=0,1", "scale=cpu", "logger=none",
        "hydra.launcher.partition=gpu", "hydra/launcher=slurm",
    ]
    assert [o for o in overrides if is_hydra_override(o)] == overrides[-2:]


@pytest.mark.slow
@needs_fashion_mnist
def test_grid_trains_as_a_local_submitit_array_and_is_not_resent(tmp_path, fmnist_cache, capfd):
    overrides = [*tiny_run_overrides(tmp_path, fmnist_cache), *TINIER_SUBSETS]
    assert ablate.main(["label_smoothing", "--seeds", "1", "--launcher", "local", "--", *overrides]) == 0
    summaries = sorted((tmp_path / "runs" / "cpu" / "label_smoothing").glob("*/seed0/summary.json"))
    assert [p.parent.parent.name for p in summaries] == ["eps0", "eps0.1"]
    assert all(json.loads(p.read_text())["status"] == "complete" for p in summaries)
    assert "2 to train on local at scale=cpu" in capfd.readouterr().out
    assert (tmp_path / "launcher" / "cpu" / "label_smoothing" / ".submitit").is_dir()  # submitit's logs, fixed place

    stamps = [p.stat().st_mtime_ns for p in summaries]
    assert ablate.main(["label_smoothing", "--seeds", "1", "--launcher", "local", "--", *overrides]) == 0
    assert "0 to train on local" in capfd.readouterr().out
    assert [p.stat().st_mtime_ns for p in summaries] == stamps
