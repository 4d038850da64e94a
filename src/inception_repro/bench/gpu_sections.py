"""The GPU bench's sections, one measurement at one rung each: the real Lightning step (images/s,
MFU, host-device syncs, peak memory), the same step written as a plain loop, and the step fed by
a real input pipeline (Fashion-MNIST, ImageFolder with CPU decode, device JPEG decode).
"""

from __future__ import annotations

import gc
import os
import time
from dataclasses import asdict
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from inception_repro.bench.device_timing import StepTimer, bench_trainer, synchronize
from inception_repro.bench.gpu_ladder import NUM_CLASSES, Mode, Sizes, bench_module, device_batches, run_config
from inception_repro.bench.pipelines import DeviceDecodedBatches
from inception_repro.bench.plain_step import PlainLoop
from inception_repro.training.builders import build_datamodule


def _rate(images: int, seconds: float, flops: int, peak: float) -> dict:
    rate = images / seconds if seconds > 0 else None
    return {"images_per_s": rate, "mfu": rate * flops / peak if rate else None}


def _reset_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_memory_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def lightning_mode(mode: Mode, sizes: Sizes, device: torch.device, flops: int, peak: float, folder: Path) -> dict:
    """images/s, MFU, syncs per step and peak memory of the real Lightning step at ``mode``."""
    cfg = run_config(mode, sizes, device.type)
    _reset_memory(device)
    module = bench_module(cfg, mode)
    warmup = sizes.compile_warmup if mode.compile else sizes.warmup
    counted = int(cfg.trainer.log_every_n_steps)
    timer = StepTimer(device, warmup, sizes.steps, counted)
    start = time.perf_counter()
    batches = DataLoader(device_batches(cfg, timer.total, device), batch_size=None)  # each item is a batch
    bench_trainer(cfg, timer, folder).fit(module, train_dataloaders=batches)
    batch = int(cfg.data.batch_size)
    return {**asdict(mode), "batch": batch, **_rate(batch * sizes.steps, timer.seconds, flops, peak),
            "step_ms": 1000 * timer.seconds / sizes.steps, "warmup_and_compile_s": time.perf_counter() - start - timer.seconds,
            "syncs_per_step": timer.syncs / counted if timer.syncs is not None else None, "counted_steps": counted,
            "peak_memory_gib": _peak_memory_gib(device)}


def plain_loop(mode: Mode, sizes: Sizes, device: torch.device, flops: int, peak: float) -> dict:
    """The same step by hand (no Lightning) at ``mode``, on the same batches."""
    cfg = run_config(mode, sizes, device.type)
    _reset_memory(device)
    torch.manual_seed(0)
    warmup = sizes.compile_warmup if mode.compile else sizes.warmup
    batches = device_batches(cfg, warmup + sizes.steps, device)
    loop = PlainLoop(cfg, NUM_CLASSES, steps_per_epoch=len(batches), compile=mode.compile).to(device)
    for x, y in batches[:warmup]:
        loop.step(x, y)
    synchronize(device)
    start = time.perf_counter()
    for x, y in batches[warmup:]:
        loop.step(x, y)
    synchronize(device)
    seconds = time.perf_counter() - start
    batch = int(cfg.data.batch_size)
    return {**asdict(mode), "batch": batch, **_rate(batch * sizes.steps, seconds, flops, peak),
            "peak_memory_gib": _peak_memory_gib(device)}


def pipeline(name: str, mode: Mode, sizes: Sizes, device: torch.device, flops: int, peak: float, folder: Path,
             data_root: str | None, jpegs: Path) -> dict:
    """The Lightning step at ``mode`` fed by a real input pipeline: ``fashion_mnist`` (the gpu
    scale's data module), ``imagefolder`` (CPU decode, slim's augmentation in loader workers) or
    ``device_decode`` (``DeviceDecodedBatches``)."""
    workers = min(16, os.cpu_count() or 1)
    data = {"fashion_mnist": [*([f"data.root={data_root}"] if data_root else [])],
            "imagefolder": ["data=imagefolder", f"data.root={jpegs}", f"data.num_workers={workers}"],
            "device_decode": ["data=imagefolder", f"data.root={jpegs}"]}[name]
    cfg = run_config(mode, sizes, device.type, *data)
    _reset_memory(device)
    module = bench_module(cfg, mode)
    warmup = sizes.compile_warmup if mode.compile else sizes.warmup
    timer = StepTimer(device, warmup, sizes.pipeline_steps)
    trainer = bench_trainer(cfg, timer, folder)
    if name == "device_decode":
        batches = DeviceDecodedBatches(jpegs / "train", int(cfg.data.batch_size), int(cfg.model.input_size), device,
                                       workers)
        trainer.fit(module, train_dataloaders=batches)
    else:
        trainer.fit(module, datamodule=build_datamodule(cfg))
    batch = int(cfg.data.batch_size)
    return {"pipeline": name, "mode": mode.name, "batch": batch,
            **_rate(batch * sizes.pipeline_steps, timer.seconds, flops, peak), "peak_memory_gib": _peak_memory_gib(device)}
