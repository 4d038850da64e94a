"""One run per config across grids (shared records), and parallel workers equal to a sequential grid."""

from __future__ import annotations

import json

import pytest
import torch

from inception_repro import ablate, grid_schedule
from inception_repro.config import compose_run
from inception_repro.errors import ConfigError
from inception_repro.store import config_hash

from conftest import TINIER_SUBSETS, needs_fashion_mnist, run_folder, tiny_run_overrides

GRIDS = ["aux", "label_smoothing"]  # aux/bn and label_smoothing/eps0.1 are one config


def _summary(results_dir, ablation, variant, seed=0) -> dict:
    return json.loads((run_folder(results_dir, ablation, variant, seed) / "summary.json").read_text())


def _weights(results_dir, ablation, variant, seed=0) -> dict[str, torch.Tensor]:
    ckpt = run_folder(results_dir, ablation, variant, seed) / "checkpoints" / "last.ckpt"
    return torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]


def test_the_names_of_a_run_are_not_part_of_its_config_hash():
    bn = compose_run(["scale=cpu", "ablation=aux", "variant=bn"])
    eps = compose_run(["scale=cpu", "ablation=label_smoothing", "variant=eps0.1"])
    none = compose_run(["scale=cpu", "ablation=aux", "variant=none"])
    assert config_hash(bn) == config_hash(eps) != config_hash(none)


def test_the_whole_study_trains_each_config_once(tmp_path):
    store = [f"results_dir={tmp_path}", "allow_outside_results=true"]
    planned = ablate.plan_grid(ablate.parse_ablations(["all"]), "cpu", "1", store, force=False)
    hashes = [config_hash(p.cfg) for p in planned if p.action != "share"]
    assert len(hashes) == len(set(hashes))
    shared = {p.name: p.source.name for p in planned if p.action == "share"}
    assert shared["label_smoothing/eps0.1/seed0"] == "aux/bn/seed0"
    assert shared["table3/bn_aux/seed0"] == "resolution/299/seed0"


@pytest.mark.slow
@needs_fashion_mnist
def test_parallel_workers_give_the_sequential_grid_bitwise_and_share_identical_runs(tmp_path, fmnist_cache, capsys):
    seq, par = tmp_path / "sequential", tmp_path / "parallel"
    for results_dir, jobs in ((seq, "1"), (par, "2")):
        assert ablate.main([*GRIDS, "--seeds", "1", "--jobs", jobs, "--", *tiny_run_overrides(results_dir, fmnist_cache), *TINIER_SUBSETS]) == 0
        out = capsys.readouterr().out
        assert "4 to train" in out and "1 shared with a run of the same config" in out
    for ablation, variant in (("aux", "none"), ("aux", "plain"), ("aux", "bn"), ("label_smoothing", "eps0")):
        a, b = _weights(seq, ablation, variant), _weights(par, ablation, variant)
        assert all(torch.equal(a[k], b[k]) for k in a), f"{ablation}/{variant}"
        assert _summary(seq, ablation, variant)["test_top1"] == _summary(par, ablation, variant)["test_top1"]

    source, shared = _summary(par, "aux", "bn"), _summary(par, "label_smoothing", "eps0.1")
    assert shared["shared_from"] == "aux/bn/seed0" and "shared_from" not in source
    assert (shared["ablation"], shared["variant"]) == ("label_smoothing", "eps0.1")
    assert {k: v for k, v in shared.items() if k not in ("ablation", "variant", "shared_from")} == \
        {k: v for k, v in source.items() if k not in ("ablation", "variant")}
    folder = run_folder(par, "label_smoothing", "eps0.1")
    assert (folder / "metrics.csv").read_bytes() == (run_folder(par, "aux", "bn") / "metrics.csv").read_bytes()
    assert "variant: eps0.1" in (folder / "config.yaml").read_text()


@needs_fashion_mnist
def test_a_later_grid_shares_the_complete_runs_of_the_store(tmp_path, fmnist_cache, capsys):
    overrides = [*tiny_run_overrides(tmp_path, fmnist_cache), *TINIER_SUBSETS]
    assert ablate.main(["aux", "--seeds", "1", "--jobs", "1", "--", *overrides]) == 0
    capsys.readouterr()
    assert ablate.main(["optimizer", "--seeds", "1", "--", *overrides]) == 0
    out = capsys.readouterr().out
    assert "1 to train, 0 already recorded, 1 shared" in out and "optimizer/rmsprop/seed0: shared" in out
    assert _summary(tmp_path, "optimizer", "rmsprop")["test_top1"] == _summary(tmp_path, "aux", "bn")["test_top1"]
    assert ablate.main(["optimizer", "--seeds", "1", "--", *overrides]) == 0
    assert "0 to train, 2 already recorded, 0 shared" in capsys.readouterr().out  # a shared record is a recorded run


def test_parallel_cpu_runs_need_a_fixed_thread_count(tmp_path):
    store = [f"results_dir={tmp_path}", "allow_outside_results=true"]
    planned = ablate.plan_grid(["aux"], "cpu", "1", [*store, "trainer.threads=null"], force=False)
    with pytest.raises(ConfigError, match="trainer.threads"):
        grid_schedule.check_jobs(planned, 2)
    grid_schedule.check_jobs(planned, 1)
    with pytest.raises(ConfigError, match="at least 1"):
        grid_schedule.check_jobs(planned, 0)


@needs_fashion_mnist
def test_the_gpu_sweep_scale_trains_the_study_design_into_its_own_folder(tmp_path, fmnist_cache):
    """scale=study_gpu on its CPU stand-in (no GPU here): the cpu scale's design, its records apart."""
    overrides = [o for o in [*tiny_run_overrides(tmp_path, fmnist_cache), *TINIER_SUBSETS] if not o.startswith("scale=")]
    assert ablate.main(["aux", "--scale", "study_gpu", "--seeds", "1", "--jobs", "2", "--",
                        *overrides, "trainer.accelerator=cpu"]) == 0
    assert sorted(p.parent.name for p in (tmp_path / "runs" / "study_gpu" / "aux").glob("*/seed0")) == ["bn", "none", "plain"]
    assert not (tmp_path / "runs" / "cpu").exists()
    cpu, gpu = compose_run(["scale=cpu"]), compose_run(["scale=study_gpu"])
    assert cpu.model == gpu.model and cpu.data == gpu.data and cpu.optimizer == gpu.optimizer
    assert gpu.trainer.accelerator == "gpu" and gpu.scale.name == "study_gpu"


def test_a_scales_default_seed_count_is_not_part_of_a_runs_config():
    assert config_hash(compose_run(["scale=cpu"])) == config_hash(compose_run(["scale=cpu", "scale.seeds=5"]))
    assert config_hash(compose_run(["scale=cpu"])) != config_hash(compose_run(["scale=cpu", "seed=5"]))
