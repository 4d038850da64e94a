"""The cpu scale's training loop: Lightning against a hand-written loop, and the loader against the model."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader, TensorDataset

from inception_repro.bench.device_timing import StepTimer, bench_trainer
from inception_repro.bench.plain_step import PlainLoop
from inception_repro.training.builders import build_datamodule, build_module, build_network
from inception_repro.training.history import HistoryLogger


def loader_batches(cfg: DictConfig, keep: int, measure: int) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], float]:
    """The first ``keep`` training batches of the run's loader, preprocessed as in training, and the
    loader + preprocessing throughput in images/s over ``measure`` batches (after the first, which
    starts the iterator)."""
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    datamodule.setup("fit")
    batches, images, start = [], 0, 0.0
    for i, (raw, labels) in enumerate(datamodule.train_dataloader()):
        if i == 1:
            start = time.perf_counter()
        x = datamodule.preprocess(raw, train=True)
        images += len(labels) if i > 0 else 0
        if i < keep:
            batches.append((x, labels))
        if i + 1 >= max(keep, measure + 1):
            break
    return batches, images / (time.perf_counter() - start)


def lightning_seconds(cfg: DictConfig, loader: DataLoader, warmup: int, folder: Path) -> float:
    """Our InceptionLitModule under a Trainer set up as a run's (clipping, logging cadence, history
    logger), without validation, checkpoints or progress bar; seconds for the batches after ``warmup``."""
    torch.manual_seed(0)
    timer = StepTimer(torch.device("cpu"), warmup, len(loader) - warmup)
    trainer = bench_trainer(cfg, timer, folder, logger=HistoryLogger(folder / "metrics.csv"))
    trainer.fit(build_module(cfg, build_network(cfg, 10)), train_dataloaders=loader)
    return timer.seconds


def plain_seconds(cfg: DictConfig, loader: DataLoader, warmup: int) -> float:
    """The same module's network, optimizer, LR schedule and EMA stepped by hand over the same batches."""
    torch.manual_seed(0)
    loop = PlainLoop(cfg, 10, len(loader))
    start = 0.0
    for i, (x, y) in enumerate(loader):
        if i == warmup:
            start = time.perf_counter()
        loop.step(x, y)
    return time.perf_counter() - start


def lightning_overhead(cfg: DictConfig, warmup: int, steps: int, rounds: int, data_batches: int) -> dict:
    """(Lightning loop time - plain loop time) / plain loop time, median over alternating rounds;
    also the run's data and model images/s (the loader must outrun the model)."""
    batch = int(cfg.data.batch_size)
    batches, data_rate = loader_batches(cfg, warmup + steps, data_batches)
    x, y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=False)
    plain, lightning = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for name in (("plain", "lightning") if r % 2 == 0 else ("lightning", "plain")):
                if name == "plain":
                    plain.append(plain_seconds(cfg, loader, warmup))
                else:
                    lightning.append(lightning_seconds(cfg, loader, warmup, Path(tmp)))
    overheads = [lt / pt - 1.0 for lt, pt in zip(lightning, plain)]
    images = steps * batch
    return {
        "lightning_overhead": statistics.median(overheads),
        "round_overheads": overheads,
        "data_images_per_s": data_rate,
        "model_images_per_s": images / statistics.median(plain),
        "lightning_images_per_s": images / statistics.median(lightning),
        "batch": batch, "warmup_steps": warmup, "timed_steps": steps, "rounds": rounds, "data_batches": data_batches,
        "width": float(cfg.model.width), "input_size": int(cfg.model.input_size),
    }
