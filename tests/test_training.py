"""Every ablation variant trains a few real Fashion-MNIST steps, validates, tests and records its run."""

from __future__ import annotations

import json

import pytest
import yaml

from inception_repro.ablations import ablation_names, load_ablation
from inception_repro.config import compose_run
from inception_repro.models import InceptionConfig
from inception_repro.train import train_run

from conftest import TINIER_SUBSETS, needs_fashion_mnist, tiny_run_overrides

SUMMARY_KEYS = {
    "status", "ablation", "variant", "seed", "scale", "val_top1", "val_top5", "test_top1", "test_top5",
    "val_top1_raw", "val_top5_raw", "test_top1_raw", "test_top5_raw", "epochs", "wall_time_s",
    "train_images_per_s", "params", "macs", "git_commit", "torch_version", "device", "started_at", "finished_at",
    "grid_sizes", "cpu",
}


def _variants():
    return [(a, v) for a in ablation_names() for v in load_ablation(a).variants]


@needs_fashion_mnist
@pytest.mark.parametrize(("ablation", "variant"), _variants())
def test_every_ablation_variant_trains_and_records_a_run(ablation, variant, tmp_path, fmnist_cache):
    cfg = compose_run([f"ablation={ablation}", f"variant={variant}", *tiny_run_overrides(tmp_path, fmnist_cache),
                       *TINIER_SUBSETS])
    summary = train_run(cfg)
    assert summary["status"] == "complete", summary.get("failure")
    run_dir = tmp_path / "runs" / "cpu" / ablation / variant / "seed0"
    on_disk = json.loads((run_dir / "summary.json").read_text())
    assert SUMMARY_KEYS <= on_disk.keys()
    assert on_disk["grid_sizes"] == InceptionConfig.from_dict(dict(cfg.model)).grid_sizes
    for key in ("val_top1", "val_top5", "test_top1", "test_top5", "test_top1_raw"):
        assert 0.0 <= on_disk[key] <= 1.0
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["variant"] == variant
    header = (run_dir / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"step", "train/loss", "val/top1", "lr"} <= set(header)
    assert (run_dir / "checkpoints" / "last.ckpt").exists()


def test_table3_rows_differ_by_exactly_one_change():
    table3 = load_ablation("table3")
    rows = [dict(o.split("=", 1) for o in overrides) for overrides in table3.variants.values()]
    assert len(rows) == 5
    for before, after in zip(rows, rows[1:]):
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        assert len(changed) == 1, changed
    assert rows[-1] == {"optimizer": "rmsprop", "loss.label_smoothing": "0.1", "model.stem": "v3", "model.aux": "bn"}


def test_the_last_table3_row_is_the_default_inception_v3():
    default = compose_run(["scale=paper"])
    bn_aux = compose_run(["scale=paper", "ablation=table3", "variant=bn_aux"])
    for group in ("model", "optimizer", "loss"):
        assert default[group] == bn_aux[group]
    # the cpu scale's default stem is the light one; table3 keeps the paper's, as resolution/299 does
    cpu_bn_aux = compose_run(["scale=cpu", "ablation=table3", "variant=bn_aux"])
    assert cpu_bn_aux.model == compose_run(["scale=cpu", "ablation=resolution", "variant=299"]).model
    assert cpu_bn_aux.model.stem == "v3" and compose_run(["scale=cpu"]).model.stem == "light"
