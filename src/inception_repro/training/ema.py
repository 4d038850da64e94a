"""Running average of the weights used for evaluation (§8; tf-inception's ExponentialMovingAverage)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightEMA(nn.Module):
    """A frozen copy of a network whose floating-point parameters and buffers track an average.

    As in TensorFlow with ``num_updates``, the decay of update t is min(decay, (1 + t) / (10 + t)),
    so the average follows the weights closely early in a run. BatchNorm statistics are averaged
    too (tf-inception averages its moving_mean / moving_variance as well).
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        super().__init__()
        self.decay = decay
        self.module = copy.deepcopy(model).requires_grad_(False)
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    def current_decay(self) -> float:
        t = int(self.num_updates)
        return min(self.decay, (1 + t) / (10 + t))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        decay = self.current_decay()
        averaged = [*self.module.parameters(), *self.module.buffers()]
        current = [*model.parameters(), *model.buffers()]
        floats = [(a, c) for a, c in zip(averaged, current) if a.is_floating_point()]
        torch._foreach_lerp_([a for a, _ in floats], [c for _, c in floats], 1.0 - decay)
        for a, c in zip(averaged, current):
            if not a.is_floating_point():
                a.copy_(c)
        self.num_updates += 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)
