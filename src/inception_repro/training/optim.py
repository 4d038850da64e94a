"""Optimizers of Table 3: SGD with momentum (the Inception-v2 baseline) and RMSProp (§8), and
``recipe_optimizer``, the one place a run's optimizer and LR schedule are set up.

``rmsprop`` is TensorFlow's RMSProp, which the paper trained with; ``rmsprop_torch`` is PyTorch's,
which differs in where epsilon goes and how the mean square starts (see ``TFRMSprop``). Weight
decay is the paper's L2 term on convolution and fully connected weights only (docs/recipe.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from inception_repro.errors import ConfigError
from inception_repro.training.schedule import scaled_lr, staircase_factor

OPTIMIZERS = ("rmsprop", "rmsprop_torch", "sgd")


class TFRMSprop(torch.optim.Optimizer):
    """RMSProp as TensorFlow's ``ApplyRMSProp`` / ``tf.compat.v1.train.RMSPropOptimizer`` computes it.

    For each parameter ``p`` with gradient ``g`` (``g + weight_decay * p`` when decayed, the
    gradient of an L2 term in the loss)::

        ms  <- decay * ms + (1 - decay) * g^2          # ms starts at 1, not 0
        mom <- momentum * mom + lr * g / sqrt(ms + eps) # eps inside the root; lr inside the momentum
        p   <- p - mom

    PyTorch's RMSprop divides by ``sqrt(ms) + eps``, starts ``ms`` at 0 and applies ``lr`` after
    the momentum, so a decayed LR also scales the steps already in the momentum buffer.
    """

    def __init__(self, params, lr: float, decay: float = 0.9, momentum: float = 0.9, eps: float = 1.0,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, decay=decay, momentum=momentum, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._update(group, params)
        return loss

    def _update(self, group: dict, params: list[torch.Tensor]) -> None:
        grads = [p.grad for p in params]
        if group["weight_decay"]:
            grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
        for p in params:
            if not self.state[p]:
                self.state[p]["mean_square"] = torch.ones_like(p, memory_format=torch.preserve_format)
                self.state[p]["momentum"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        squares = [self.state[p]["mean_square"] for p in params]
        momenta = [self.state[p]["momentum"] for p in params]
        torch._foreach_mul_(squares, group["decay"])
        torch._foreach_addcmul_(squares, grads, grads, value=1.0 - group["decay"])
        roots = torch._foreach_add(squares, group["eps"])
        torch._foreach_sqrt_(roots)
        torch._foreach_mul_(momenta, group["momentum"])
        torch._foreach_addcdiv_(momenta, grads, roots, value=group["lr"])
        torch._foreach_sub_(params, momenta)


def decay_groups(params: Iterable[torch.nn.Parameter], weight_decay: float) -> list[dict]:
    """Parameter groups: weight decay on convolution and fully connected weights (the tensors with
    more than one dimension), none on batch-norm scales and shifts or biases, as slim's
    ``weights_regularizer`` on ``conv2d`` / ``fully_connected`` in the paper's TensorFlow code."""
    params = list(params)
    groups = [
        {"params": [p for p in params if p.ndim > 1], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]


def build_optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float, **hp: float) -> torch.optim.Optimizer:
    """``rmsprop`` (TensorFlow's: decay 0.9, eps 1.0 inside the root, momentum 0.9), ``rmsprop_torch``
    (PyTorch's, same hyper-parameters) or ``sgd`` (momentum 0.9); weight decay as ``decay_groups``."""
    if name not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
    groups = decay_groups(params, hp["weight_decay"])
    if name == "rmsprop":
        return TFRMSprop(groups, lr=lr, decay=hp["decay"], momentum=hp["momentum"], eps=hp["eps"])
    if name == "rmsprop_torch":
        return torch.optim.RMSprop(groups, lr=lr, alpha=hp["decay"], eps=hp["eps"], momentum=hp["momentum"])
    return torch.optim.SGD(groups, lr=lr, momentum=hp["momentum"])


def recipe_optimizer(hp: dict[str, Any], params, global_batch: int, steps_per_epoch: float):
    """The optimizer config ``hp`` built (§8): its LR at ``reference_batch`` scaled linearly to
    ``global_batch``, and the staircase schedule (``lr_decay_rate`` every ``epochs_per_decay``
    epochs) to step after every optimizer step. Returns (optimizer, schedule)."""
    hp = dict(hp)
    lr = scaled_lr(hp.pop("lr"), hp.pop("reference_batch"), global_batch)
    rate, epochs_per_decay = hp.pop("lr_decay_rate"), hp.pop("epochs_per_decay")
    optimizer = build_optimizer(hp.pop("name"), params, lr, **hp)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: staircase_factor(step, steps_per_epoch, epochs_per_decay, rate)
    )
    return optimizer, schedule
