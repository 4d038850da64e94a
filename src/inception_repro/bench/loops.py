"""Plain PyTorch training steps, timed: our network against torchvision's, and against its own size."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from torchvision.models import inception_v3

from inception_repro.models import InceptionConfig, InceptionOutputs, InceptionV3
from inception_repro.models.costs import count_macs
from inception_repro.paths import CONFIG_DIR
from inception_repro.train import build_module
from inception_repro.training.module import inception_loss, recipe_optimizer

Batch = tuple[torch.Tensor, torch.Tensor]


def rmsprop(model: torch.nn.Module, batch: int) -> torch.optim.Optimizer:
    """§8's RMSProp (configs/optimizer/rmsprop.yaml) at the paper's LR scaled to ``batch``."""
    hp = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "optimizer" / "rmsprop.yaml"))
    return recipe_optimizer(hp, model.parameters(), batch, steps_per_epoch=1)[0]


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               label_smoothing: float = 0.1, aux_weight: float = 0.4, clip: float = 2.0,
               autocast: torch.dtype | None = None) -> None:
    """Forward (under ``autocast`` when given), the §7 loss (main + aux), backward, clipping at
    global norm ``clip``, optimizer step; nothing is read back from the device."""
    with torch.autocast(x.device.type, dtype=autocast, enabled=autocast is not None):
        out = model(x)
        loss, _, _ = inception_loss(InceptionOutputs(*out) if isinstance(out, tuple) else out, y, label_smoothing,
                                    aux_weight)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()


class PlainLoop:
    """The run's Lightning training step written out by hand, read from the composed config ``cfg``:
    the module's network (``compile``: torch.compile mode, or None), loss, clipping, optimizer and
    schedule, EMA, precision (bf16-mixed: autocast) and memory format."""

    def __init__(self, cfg: DictConfig, num_classes: int, steps_per_epoch: float, compile: str | None = None) -> None:
        module = build_module(cfg, num_classes)
        self.model, self.ema = module.model.train(), module.ema
        self.optimizer, self.schedule = recipe_optimizer(
            OmegaConf.to_container(cfg.optimizer), self.model.parameters(), int(cfg.data.batch_size), steps_per_epoch
        )
        self.loss = float(cfg.loss.label_smoothing), float(cfg.loss.aux_weight)
        self.clip = float(cfg.trainer.gradient_clip_val)
        self.autocast = torch.bfloat16 if str(cfg.trainer.precision).startswith("bf16") else None
        self.memory_format = torch.channels_last if cfg.trainer.channels_last else torch.contiguous_format
        if compile:
            self.model.compile(mode=compile)

    def to(self, device: torch.device | str) -> PlainLoop:
        self.model.to(device)
        if self.ema is not None:
            self.ema.to(device)
        return self

    def step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        train_step(self.model, self.optimizer, x.contiguous(memory_format=self.memory_format), y, *self.loss,
                   clip=self.clip, autocast=self.autocast)
        self.schedule.step()
        if self.ema is not None:
            self.ema.update(self.model)


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


def torchvision_ratio(shape: Shape, rounds: int, warmup: int = 2) -> dict:
    """Training images/s of our Inception-v3 over torchvision's Inception3 at ``shape``.

    The two alternate within each round (ABBA order across rounds, so drift cancels); the ratio
    is the median of the per-round ratios. torchvision's aux head needs the full 17x17 grid
    (299 px); at smaller inputs both run without one.
    """
    torch.manual_seed(0)
    ours = InceptionV3(InceptionConfig(input_size=shape.input_size, aux="bn" if shape.aux else "none"))
    theirs = inception_v3(weights=None, aux_logits=shape.aux, init_weights=True)
    batches = random_batches(2, shape.batch, 3, shape.input_size, 1000)
    steps = {}
    for name, net in (("ours", ours), ("torchvision", theirs)):
        net = net.to(memory_format=torch.channels_last).train()
        optimizer = rmsprop(net, shape.batch)
        steps[name] = lambda b, net=net, optimizer=optimizer: train_step(net, optimizer, *b)
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


def scaling_point(cfg: InceptionConfig, batch: int, steps: int, warmup: int = 2) -> dict:
    """Training images/s and peak memory of the network ``cfg`` builds; run it alone in a process."""
    before = reset_peak_rss()
    torch.manual_seed(0)
    model = InceptionV3(cfg)
    macs = count_macs(model)
    model = model.to(memory_format=torch.channels_last).train()
    optimizer = rmsprop(model, batch)
    batches = random_batches(2, batch, cfg.in_chans, cfg.pixels, cfg.num_classes)
    step = lambda b: train_step(model, optimizer, *b)  # noqa: E731
    seconds_per_step(step, batches, warmup)
    seconds = seconds_per_step(step, batches, steps)
    return {
        "width": cfg.width, "input_size": cfg.pixels, "batch": batch, "macs_per_image": macs,
        "images_per_s": batch / seconds, "peak_rss_mib": _status_mib("VmHWM"), "rss_before_model_mib": before,
    }
