"""Training curves for §4 and Fig. 2: the cpu scale validates 10 times per run, on the same images."""

from __future__ import annotations

import csv

import torch

from inception_repro.config import compose_run
from inception_repro.data import FashionMNISTDataModule
from inception_repro.train import train_run

from conftest import needs_fashion_mnist, run_folder, tiny_run_overrides

pytestmark = needs_fashion_mnist


def test_cpu_scale_validates_ten_times_per_run_the_last_at_the_last_step(tmp_path, fmnist_cache):
    """The cpu scale's interval (a tenth of its one epoch) on 20 steps."""
    tiny = [o for o in tiny_run_overrides(tmp_path, fmnist_cache) if not o.startswith("trainer.val_check_interval=")]
    cfg = compose_run(["ablation=aux", "variant=bn", *tiny, "data.train_subset=320"])
    scale = compose_run(["scale=cpu"]).trainer
    assert (cfg.trainer.val_check_interval, cfg.trainer.max_epochs) == (scale.val_check_interval, scale.max_epochs) == (0.1, 1)
    summary = train_run(cfg)
    with open(run_folder(tmp_path) / "metrics.csv", newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["val/top1"]]
    # After every 2nd step; Lightning logs the validation after step k at row k - 1, as its training rows.
    assert [int(float(row["step"])) for row in rows] == list(range(1, 20, 2))
    assert summary.global_step == 20 and float(rows[-1]["val/top1"]) == summary.metrics["val_top1"]


def test_the_validation_subset_is_the_same_for_every_seed(fmnist_cache):
    def val_set(seed: int):
        module = FashionMNISTDataModule(cache_dir=fmnist_cache, val_subset=2500, seed=seed)
        module.setup()
        images, labels = next(iter(torch.utils.data.DataLoader(module.splits["val"], batch_size=2500)))
        return images, labels

    (a_images, a_labels), (b_images, b_labels) = val_set(0), val_set(1)
    assert len(a_labels) == 2500 and torch.equal(a_images, b_images) and torch.equal(a_labels, b_labels)
