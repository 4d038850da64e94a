"""Running average of the weights used for evaluation (§8; tf-inception's ExponentialMovingAverage)."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class WeightEMA(nn.Module):
    """A frozen copy of a network whose floating-point parameters and buffers track an average.

    As in TensorFlow with ``num_updates``, the decay of update t is min(decay, (1 + t) / (10 + t)),
    so the average follows the weights closely early in a run. BatchNorm statistics are averaged
    too (tf-inception averages its moving_mean / moving_variance as well). An update reads nothing
    back from the device: ``num_updates`` is mirrored on the host (read once, when loaded).
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        super().__init__()
        self.decay = decay
        self.module = copy.deepcopy(model).requires_grad_(False)
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))
        self._updates = 0  # == num_updates, on the host

    def current_decay(self) -> float:
        t = self._updates
        return min(self.decay, (1 + t) / (10 + t))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        decay = self.current_decay()
        averaged = [*self.module.parameters(), *self.module.buffers()]
        current = [*model.parameters(), *model.buffers()]
        floats = [(a, c) for a, c in zip(averaged, current) if a.is_floating_point()]
        counters = [(a, c) for a, c in zip(averaged, current) if not a.is_floating_point()]  # BN's num_batches_tracked
        torch._foreach_lerp_([a for a, _ in floats], [c for _, c in floats], 1.0 - decay)
        if counters:
            torch._foreach_copy_([a for a, _ in counters], [c for _, c in counters])
        self.num_updates += 1
        self._updates += 1

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args, **kwargs) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._updates = int(self.num_updates)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)
