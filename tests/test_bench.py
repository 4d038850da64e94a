"""``make bench`` end to end at tiny settings: every figure is produced and recorded (none is asserted)."""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path

import pytest
import torch

from inception_repro.bench.cpu import Settings, report, run, write
from inception_repro.bench.loops import Shape

from conftest import needs_fashion_mnist, tiny_run_overrides

TINY = dict(
    shapes=(Shape(75, 2, False, 1),), rounds=1, warmup=1, steps=2, lightning_rounds=1, data_batches=3,
    points=((0.125, 75),), point_batch=2, point_steps=1, study_steps=1,
    study_ablations=("aux", "label_smoothing"),  # 5 runs, 4 configs: aux/bn is label_smoothing/eps0.1
)


@pytest.mark.slow
@needs_fashion_mnist
def test_bench_writes_every_figure_with_provenance(tmp_path, fmnist_cache):
    overrides = [o for o in tiny_run_overrides(tmp_path, fmnist_cache) if not o.startswith(("scale=", "logger="))]
    result = run(Settings(**TINY, overrides=tuple(overrides)))
    write(result, tmp_path / "bench" / "cpu.json")
    report(result)
    on_disk = json.loads((tmp_path / "bench" / "cpu.json").read_text())
    for key in ("ours_vs_torchvision_ratio", "lightning_overhead", "data_images_per_s", "model_images_per_s"):
        assert math.isfinite(on_disk[key]), key
    assert {"git_commit", "command", "date", "machine", "cpu"} <= on_disk["provenance"].keys()
    (point,) = on_disk["scaling"]
    assert point["width"] == 0.125 and point["input_size"] == 75
    assert point["peak_rss_mib"] >= point["rss_before_model_mib"] > 0
    study = on_disk["study_rate"]
    assert (study["runs_per_seed"], study["configs_per_seed"], len(study["runs"])) == (5, 4, 5)
    assert study["ablations"] == ["aux", "label_smoothing"]
    assert on_disk["before_seeds_per_hour"] > 0 and on_disk["after_seeds_per_hour"] > 0


@needs_fashion_mnist
def test_gpu_bench_measures_every_section_through_lightning_and_writes_after_each(tmp_path, monkeypatch):
    """``--device cpu --tiny``: one rung, the compile rung (CUDA only), the plain loop, the three pipelines."""
    from inception_repro.bench import gpu

    out, snapshots = tmp_path / "gpu.json", []
    add = gpu.Report.add

    def add_and_read(self, section, key, value):
        add(self, section, key, value)
        on_disk = json.loads(out.read_text())
        snapshots.append(sorted(on_disk.get(section, {}) if key else [section]))

    monkeypatch.setattr(gpu.Report, "add", add_and_read)
    modes = [gpu.LADDER[0], gpu.LADDER[4]]
    result = gpu.run(out, torch.device("cpu"), gpu.TINY, modes, data_root=None)
    assert snapshots == [["fp32"], ["bf16_channels_last_b512_compile", "fp32"], ["plain_loop"], ["fashion_mnist"],
                         ["fashion_mnist", "imagefolder"], ["device_decode", "fashion_mnist", "imagefolder"]]
    on_disk = json.loads(out.read_text())
    assert on_disk["best_mode"] == "fp32" and on_disk["lightning_images_per_s"] == result["lightning"]["fp32"]["images_per_s"] > 0
    assert on_disk["mfu"] > 0 and on_disk["lightning"]["fp32"]["syncs_per_step"] is not None
    assert "skipped" in on_disk["lightning"]["bf16_channels_last_b512_compile"]
    assert on_disk["plain_loop"]["images_per_s"] > 0
    for name, pipeline in on_disk["pipelines"].items():
        assert pipeline["images_per_s"] > 0, (name, pipeline)
    assert {"git_commit", "command", "date", "machine"} <= on_disk["provenance"].keys()


def test_gpu_bench_ladder_adds_one_change_per_rung():
    from inception_repro.bench.gpu_ladder import LADDER

    fields = ("precision", "channels_last", "batch", "compile")
    changes = [[f for f in fields if getattr(a, f) != getattr(b, f)] for a, b in zip(LADDER, LADDER[1:])]
    assert changes == [["precision"], ["channels_last"], ["batch"], ["compile"], ["compile"]]
    assert LADDER[-1].compile == "reduce-overhead"  # CUDA graphs


def test_gpu_bench_refuses_unknown_modes_and_a_missing_gpu_in_one_line(capsys, tmp_path):
    from inception_repro.bench import gpu

    assert gpu.main(["--modes", "fp64", "--out", str(tmp_path / "x.json")]) == 2
    assert capsys.readouterr().err.startswith("error: unknown mode fp64; valid: fp32, ")
    if not torch.cuda.is_available():
        assert gpu.main(["--out", str(tmp_path / "x.json")]) == 2
        assert capsys.readouterr().err == "error: no CUDA device here; run it on a lent GPU, or with --device cpu --tiny\n"
    assert not (tmp_path / "x.json").exists()


def _documented_aux_command() -> list[str]:
    """The overrides of the device's aux-grid command in docs/benchmarks.md."""
    docs = (Path(__file__).parents[1] / "docs" / "benchmarks.md").read_text()
    (line,) = [ln.strip() for ln in docs.splitlines() if ln.strip().startswith("python3 -m inception_repro.ablate aux")]
    args = shlex.split(line.split(" 2>&1")[0])
    assert args[3:8] == ["aux", "--scale", "gpu", "--seeds", "1"], args
    return args[args.index("--") + 1:]


def test_the_documented_gpu_aux_grid_is_the_gpu_scale_at_299_px_within_its_budget():
    """3 variants x 1 seed, full width at 299 px, bf16 channels_last batch 512 with the short-budget LR
    rule, W&B offline, the committed study's results_dir; 3 epochs of the 55k training images fit
    ~6 minutes even at the eager rate the earlier bench measured (bf16 channels_last, batch 128)."""
    from inception_repro.ablate import plan_grid
    from inception_repro.training.schedule import scaled_lr

    planned = plan_grid(["aux"], "gpu", "1", _documented_aux_command(), force=False)  # plans only: writes nothing
    assert [(p.variant, p.seed) for p in planned] == [("none", 0), ("plain", 0), ("bn", 0)]
    for run in planned:
        cfg = run.cfg
        assert (cfg.scale.name, cfg.model.aux, cfg.model.input_size, cfg.model.width) == ("gpu", run.variant, 299, 1.0)
        assert (cfg.data.name, cfg.data.root, cfg.data.train_subset, cfg.data.batch_size) == ("fashion_mnist", ".devdata", None, 512)
        assert (cfg.trainer.precision, cfg.trainer.channels_last, cfg.trainer.compile) == ("bf16-mixed", True, False)
        assert scaled_lr(cfg.optimizer.lr, cfg.optimizer.reference_batch, cfg.data.batch_size) == pytest.approx(0.18)
        assert cfg.optimizer.epochs_per_decay == 0.1 and cfg.trainer.checkpoint_every_minutes >= 10
        assert (cfg.logger.name, cfg.logger.mode, cfg.results_dir) == ("wandb", "offline", "results")
    eager_images_per_s, overhead_s = 2200, 17  # configs/scale/gpu.yaml's budget
    train_images = 60000 - planned[0].cfg.data.val_size
    minutes = len(planned) * (planned[0].cfg.trainer.max_epochs * train_images / eager_images_per_s + overhead_s) / 60
    assert minutes <= 6.0


def test_gpu_bench_times_eager_rungs_eager():
    """The gpu scale's ``trainer.compile`` is off in the bench: only a rung's own mode compiles, so the
    eager rungs and the pipelines (timed at the best eager rung) run uncompiled."""
    from inception_repro.bench import gpu_ladder as gpu

    for mode in gpu.LADDER:
        assert gpu.run_config(mode, gpu.TINY, "cpu").trainer.compile is False, mode.name
    eager = gpu.LADDER[0]
    assert gpu.bench_module(gpu.run_config(eager, gpu.TINY, "cpu"), eager).model._compiled_call_impl is None
