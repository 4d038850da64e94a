"""Optimizers of Table 3: SGD with momentum (the Inception-v2 baseline) and RMSProp (§8)."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from inception_repro.errors import ConfigError

OPTIMIZERS = ("rmsprop", "sgd")


def build_optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float, **hp: float) -> torch.optim.Optimizer:
    """RMSProp (decay 0.9, eps 1.0, momentum 0.9) or SGD (momentum 0.9), both with weight decay.

    PyTorch's RMSprop adds eps outside the square root (TensorFlow, which the paper used, adds it
    inside and starts the mean square at 1); with eps = 1.0 both take momentum-SGD-like steps
    while gradients are small.
    """
    if name == "rmsprop":
        return torch.optim.RMSprop(
            params, lr=lr, alpha=hp["decay"], eps=hp["eps"], momentum=hp["momentum"], weight_decay=hp["weight_decay"]
        )
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=hp["momentum"], weight_decay=hp["weight_decay"])
    raise ConfigError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
