"""Learning-rate rule and schedule of §8: 0.045 for a global batch of 1600, x0.94 every two epochs."""

from __future__ import annotations

import math


def scaled_lr(lr: float, reference_batch: int, global_batch: int) -> float:
    """Linear scaling: ``lr`` is the rate at ``reference_batch``; the run uses lr * global / reference."""
    return lr * global_batch / reference_batch


def staircase_factor(step: int, steps_per_epoch: float, epochs_per_decay: float, rate: float) -> float:
    """Multiplier after ``step`` optimizer steps: ``rate`` ** (completed decay periods)."""
    period = steps_per_epoch * epochs_per_decay
    return rate ** math.floor(step / period)
