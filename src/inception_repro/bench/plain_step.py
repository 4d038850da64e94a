"""The run's training step written out by hand, read from its composed config: the §7 loss (main +
aux, label smoothing), clipping at a global norm (§8), the run's optimizer and LR schedule, EMA,
bf16 autocast and memory format. The benches time it against Lightning's step and torchvision's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from omegaconf import DictConfig, OmegaConf

from inception_repro.models import InceptionOutputs
from inception_repro.training.builders import build_module, build_network
from inception_repro.training.module import inception_loss
from inception_repro.training.optim import recipe_optimizer


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
