"""Plain PyTorch training steps, timed (``make bench``): our network against torchvision's at one
shape, and against its own width and input size (images/s and peak resident memory).
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from omegaconf import DictConfig
from torchvision.models import inception_v3

from inception_repro.bench.plain_step import StepRecipe, step_optimizer, train_step
from inception_repro.models import InceptionConfig, InceptionV3
from inception_repro.models.costs import count_macs
from inception_repro.training.builders import build_network

Batch = tuple[torch.Tensor, torch.Tensor]


def random_batches(n: int, batch: int, chans: int, size: int, classes: int, seed: int = 0) -> list[Batch]:
    """``n`` channels_last batches of normal noise and random labels."""
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(batch, chans, size, size, generator=g).contiguous(memory_format=torch.channels_last),
         torch.randint(0, classes, (batch,), generator=g))
        for _ in range(n)
    ]


def seconds_per_step(step: Callable[[Batch], None], batches: Sequence[Batch], steps: int) -> float:
    """Mean wall time of ``steps`` calls of ``step``, cycling through ``batches``."""
    start = time.perf_counter()
    for i in range(steps):
        step(batches[i % len(batches)])
    return (time.perf_counter() - start) / steps


def _status_mib(key: str) -> float:
    """A memory line of /proc/self/status (Linux), in MiB."""
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE).group(1)) / 1024


def reset_peak_rss() -> float:
    """Restart the peak resident memory count from now (Linux clear_refs); returns the current RSS in MiB.

    Importing torch, Lightning and friends peaks above what a small model ever uses, so a peak
    counted from the process start would hide the model.
    """
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mib("VmRSS")


@dataclass(frozen=True)
class Shape:
    """One shape both networks train at: width 1.0, 1000 classes, RGB, channels_last."""

    input_size: int
    batch: int
    aux: bool
    steps: int  # timed steps per network per round


def torchvision_ratio(shape: Shape, rounds: int, cfg: DictConfig, warmup: int = 2) -> dict:
    """Training images/s of our Inception-v3 over torchvision's Inception3 at ``shape``, each stepped
    with the recipe (optimizer, loss, clipping) of the composed config ``cfg``.

    The two alternate within each round (ABBA order across rounds, so drift cancels); the ratio
    is the median of the per-round ratios. torchvision's aux head needs the full 17x17 grid
    (299 px); at smaller inputs both run without one.
    """
    torch.manual_seed(0)
    ours = InceptionV3(InceptionConfig(input_size=shape.input_size, aux="bn" if shape.aux else "none"))
    theirs = inception_v3(weights=None, aux_logits=shape.aux, init_weights=True)
    batches = random_batches(2, shape.batch, 3, shape.input_size, 1000)
    recipe = replace(StepRecipe.of(cfg), memory_format=torch.channels_last)
    steps = {}
    for name, net in (("ours", ours), ("torchvision", theirs)):
        net = net.to(memory_format=torch.channels_last).train()
        optimizer, _ = step_optimizer(cfg, net, shape.batch)
        steps[name] = lambda b, net=net, optimizer=optimizer: train_step(net, optimizer, *b, recipe)
        seconds_per_step(steps[name], batches, warmup)
    rates: dict[str, list[float]] = {name: [] for name in steps}
    for r in range(rounds):
        for name in (("ours", "torchvision") if r % 2 == 0 else ("torchvision", "ours")):
            rates[name].append(shape.batch / seconds_per_step(steps[name], batches, shape.steps))
    ratios = [a / b for a, b in zip(rates["ours"], rates["torchvision"])]
    return {
        "input_size": shape.input_size, "batch": shape.batch, "aux": shape.aux, "width": 1.0, "num_classes": 1000,
        "channels_last": True, "rounds": rounds, "steps_per_round": shape.steps,
        "ours_images_per_s": statistics.median(rates["ours"]),
        "torchvision_images_per_s": statistics.median(rates["torchvision"]),
        "ratio": statistics.median(ratios),
        "round_ratios": ratios,
    }


def scaling_point(cfg: DictConfig, num_classes: int, batch: int, steps: int, warmup: int = 2) -> dict:
    """Training images/s and peak memory of the run ``cfg`` describes (its network, stepped with its
    recipe, channels_last); run it alone in a process."""
    before = reset_peak_rss()
    torch.manual_seed(0)
    model = build_network(cfg, num_classes)
    macs = count_macs(model)
    model = model.to(memory_format=torch.channels_last).train()
    optimizer, _ = step_optimizer(cfg, model, batch)
    recipe = replace(StepRecipe.of(cfg), memory_format=torch.channels_last)
    net = model.cfg
    batches = random_batches(2, batch, net.in_chans, net.pixels, net.num_classes)
    step = lambda b: train_step(model, optimizer, *b, recipe)  # noqa: E731
    seconds_per_step(step, batches, warmup)
    seconds = seconds_per_step(step, batches, steps)
    return {
        "width": net.width, "input_size": net.pixels, "batch": batch, "macs_per_image": macs,
        "images_per_s": batch / seconds, "peak_rss_mib": _status_mib("VmHWM"), "rss_before_model_mib": before,
    }
