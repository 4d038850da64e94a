"""``make bench`` end to end at tiny settings: every figure is produced and recorded (none is asserted)."""

from __future__ import annotations

import json
import math

from inception_repro.bench.cpu import Settings, report, run, write
from inception_repro.bench.loops import Shape

from conftest import needs_fashion_mnist, tiny_run_overrides

TINY = dict(
    shapes=(Shape(75, 2, False, 1),), rounds=1, warmup=1, steps=2, lightning_rounds=1, data_batches=3,
    points=((0.125, 75),), point_batch=2, point_steps=1,
)


@needs_fashion_mnist
def test_bench_writes_every_figure_with_provenance(tmp_path, fmnist_cache):
    overrides = [o for o in tiny_run_overrides(tmp_path, fmnist_cache) if not o.startswith(("scale=", "logger="))]
    result = run(Settings(**TINY, overrides=tuple(overrides)))
    write(result, tmp_path / "bench" / "cpu.json")
    report(result)
    on_disk = json.loads((tmp_path / "bench" / "cpu.json").read_text())
    for key in ("ours_vs_torchvision_ratio", "lightning_overhead", "data_images_per_s", "model_images_per_s"):
        assert math.isfinite(on_disk[key]), key
    assert {"git_commit", "command", "date", "machine"} <= on_disk["provenance"].keys()
    (point,) = on_disk["scaling"]
    assert point["width"] == 0.125 and point["input_size"] == 75
    assert point["peak_rss_mib"] >= point["rss_before_model_mib"] > 0


def test_the_gpu_aux_run_is_a_valid_gpu_scale_config_at_the_short_budget_lr(tmp_path):
    from inception_repro.bench.gpu import aux_overrides
    from inception_repro.config import compose_run
    from inception_repro.training.schedule import scaled_lr

    cfg = compose_run(["ablation=aux", "variant=bn", "scale=gpu", "model.aux=bn",
                       *aux_overrides(tmp_path, None, 36000, 2)])
    assert (cfg.model.input_size, cfg.model.width, cfg.data.batch_size) == (299, 1.0, 128)
    assert scaled_lr(cfg.optimizer.lr, cfg.optimizer.reference_batch, cfg.data.batch_size) == 0.045
    assert (cfg.optimizer.epochs_per_decay, cfg.data.train_subset, cfg.trainer.max_epochs) == (0.1, 36000, 2)
