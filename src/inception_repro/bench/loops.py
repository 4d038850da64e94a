"""Plain PyTorch training steps, timed: our network against torchvision's, and against its own size."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from torchvision.models import inception_v3

from inception_repro.models import InceptionConfig, InceptionOutputs, InceptionV3
from inception_repro.models.costs import count_macs
from inception_repro.training.builders import build_module, build_network
from inception_repro.training.module import inception_loss
from inception_repro.training.optim import recipe_optimizer

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class StepRecipe:
    """What a run's training step does around forward and backward, read from its composed config:
    the §7 loss (label smoothing, aux weight), clipping at a global norm (§8), bf16 autocast under
    ``bf16-mixed`` precision, and the input's memory format."""

    label_smoothing: float
    aux_weight: float
    clip: float | None
    autocast: torch.dtype | None
    memory_format: torch.memory_format

    @classmethod
    def of(cls, cfg: DictConfig) -> StepRecipe:
        t = cfg.trainer
        return cls(
            float(cfg.loss.label_smoothing), float(cfg.loss.aux_weight),
            None if t.gradient_clip_val is None else float(t.gradient_clip_val),
            torch.bfloat16 if str(t.precision).startswith("bf16") else None,
            torch.channels_last if t.channels_last else torch.contiguous_format,
        )


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               recipe: StepRecipe) -> None:
    """The benches' one training step: forward (under the recipe's autocast), the §7 loss (main + aux),
    backward, clipping, optimizer step; nothing is read back from the device."""
    with torch.autocast(x.device.type, dtype=recipe.autocast, enabled=recipe.autocast is not None):
        out = model(x.contiguous(memory_format=recipe.memory_format))
        loss, _, _ = inception_loss(InceptionOutputs(*out) if isinstance(out, tuple) else out, y,
                                    recipe.label_smoothing, recipe.aux_weight)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if recipe.clip is not None:  # over the optimizer's parameters, in its order, as Lightning clips: the same sums
        torch.nn.utils.clip_grad_norm_([p for group in optimizer.param_groups for p in group["params"]], recipe.clip)
    optimizer.step()


def step_optimizer(cfg: DictConfig, model: torch.nn.Module, batch: int, steps_per_epoch: float = 1):
    """The run's optimizer and LR schedule (``recipe_optimizer``) for ``model`` at ``batch`` on one device."""
    return recipe_optimizer(OmegaConf.to_container(cfg.optimizer), model.parameters(), batch, steps_per_epoch)


class PlainLoop:
    """The run's Lightning training step written out by hand, read from the composed config ``cfg``:
    the module's network (``compile``: torch.compile mode, or None), loss, clipping, optimizer and
    schedule, EMA, precision (bf16-mixed: autocast) and memory format."""

    def __init__(self, cfg: DictConfig, num_classes: int, steps_per_epoch: float, compile: str | None = None) -> None:
        module = build_module(cfg, build_network(cfg, num_classes))
        self.model, self.ema = module.model.train(), module.ema
        self.optimizer, self.schedule = step_optimizer(cfg, self.model, int(cfg.data.batch_size), steps_per_epoch)
        self.recipe = StepRecipe.of(cfg)
        if compile:
            self.model.compile(mode=compile)

    def to(self, device: torch.device | str) -> PlainLoop:
        self.model.to(device)
        if self.ema is not None:
            self.ema.to(device)
        return self

    def step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        train_step(self.model, self.optimizer, x, y, self.recipe)
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
