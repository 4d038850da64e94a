"""The network's typed config: one field per design choice of the paper."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, get_args, get_origin, get_type_hints

from inception_repro.errors import ConfigError

StemKind = Literal["v3", "7x7", "light"]
Resolution = Literal[299, 151, 79]
Aux = Literal["none", "plain", "bn"]
Activation = Literal["relu", "linear"]
GridReductionKind = Literal["efficient", "pool_first", "conv_first"]
MAX_WIDTH = 2.0
"""The widest network accepted: twice the paper's channels, four times its parameters (95M) and
multiply-adds; tests/test_model.py builds and trains a step of widths up to it. Wider is a typo."""
SAVED_VALUES_PER_PIXEL = {"light": 12_000, 299: 240, 151: 950, 79: 2_800}
"""Values a training image keeps for the backward pass, per input pixel at width 1.0, by stem
(``light``) or Table 2 resolution; they grow as width x pixels^2. Counted with saved_tensors_hooks
on the meta device at 7 to 1196 px and widths 1/1000 to 2, and rounded down, so ``saved_values``
is a lower bound (tests/test_model.py checks it)."""


@dataclass(frozen=True)
class InceptionConfig:
    """Inception-v3 and its paper ablations; the defaults are Inception-v3 as torchvision builds it.

    stem: ``v3`` is the stem of model.txt / torchvision (three 3x3 convolutions, 32-32-64, then
        max-pool, 1x1 80, 3x3 192, max-pool). ``7x7`` is Table 3's baseline before the
        "Factorized 7x7" row: those three 3x3 convolutions (whose receptive field is 7x7) replaced
        by one 7x7 convolution with 64 outputs and the same stride, padded so that every later
        grid is the same size (our reading of Table 3 and §6). ``light`` is not the paper's: one
        stride-1 3x3 convolution to the stem's 192 channels, so the first module grid is the input
        itself (35 px in: the paper's 35x35 / 17x17 / 8x8 grids at a fraction of the stem's cost),
        for small-scale studies whose claims are not about the stem; it has no Table 2 variants.
    resolution: Table 2's receptive-field variant (§9). 299: first convolution stride 2, max-pool
        after the first convolution block; 151: stride 1, max-pool kept; 79: stride 1, that
        max-pool removed. All three reach (nearly) the 35x35 / 17x17 / 8x8 grids at their own
        input size, at (almost) the same cost (at width 1.0; see ``stem_min_channels`` for small widths).
    input_size: pixels fed to the network; defaults to ``resolution``. Smaller inputs (cpu scale)
        keep the stem of ``resolution`` and shrink every grid; it must be at least the stem's
        minimum (see ``models.geometry.min_input_size``).
    aux: auxiliary classifier on the last 17x17 module (§4): ``none``; ``plain`` (its 1x1
        convolution batch-normalized, its 768-wide "fully connected" layer not); ``bn`` (that
        layer batch-normalized too: the paper's BN-auxiliary, Table 3; torchvision's head).
    factorize_5x5: 35x35 modules use two 3x3 convolutions (True, §3.1 Fig. 5) or one 5x5 (False,
        Fig. 4) in their deepest branch.
    factorized_activation: activation after the first convolution of each factorized pair
        (the two 3x3 of the 35x35 modules, the 1x7 + 7x1 pairs of the 17x17 modules); Fig. 2
        compares ``relu`` against ``linear`` (batch norm kept, no ReLU).
    asymmetric: 17x17 modules use 1x7 followed by 7x1 (True, §3.2 Fig. 6) or one full 7x7 (False).
    grid_reduction: how the 35->17 and 17->8 reductions are built (§5): ``efficient`` (Fig. 10:
        parallel stride-2 convolutions and pooling, concatenated), ``pool_first`` (Fig. 9 left:
        max-pool, then the same branches at stride 1) or ``conv_first`` (Fig. 9 right: the branches
        at stride 1 on the full grid, then max-pool). Output widths are identical.
    width: multiplier on every layer's channel count (1.0 = the paper; cpu scale uses less), at most
        ``MAX_WIDTH``.
    stem_min_channels: the fewest channels a stem convolution keeps under ``width`` (1: no floor,
        the paper's network). The stem is one chain of convolutions, the network's only path: at
        width 1/16 the v3 stem starts with 32/16 = 2 channels, and a run whose two die (BN scale
        near 0, shift negative) stops learning. TF-slim's Inception-v3 floors every convolution at
        ``min_depth`` = 16 channels for small depth multipliers; this floor is the stem's only.
    num_classes, in_chans: classifier outputs and input channels (1 for grayscale data).
    dropout: before the classifier; keep-probability 0.8 in the paper (§8, model.txt), so 0.2.
    bn_eps: BatchNorm epsilon, 1e-3 as in torchvision and slim.
    bn_momentum: PyTorch BatchNorm momentum (slim's decay 0.9997 is 0.0003; 0.1 suits short runs).
    """

    stem: StemKind = "v3"
    resolution: Resolution = 299
    input_size: int | None = None
    aux: Aux = "bn"
    factorize_5x5: bool = True
    factorized_activation: Activation = "relu"
    asymmetric: bool = True
    grid_reduction: GridReductionKind = "efficient"
    width: float = 1.0
    stem_min_channels: int = 1
    num_classes: int = 1000
    in_chans: int = 3
    dropout: float = 0.2
    bn_eps: float = 1e-3
    bn_momentum: float = 0.1

    def __post_init__(self) -> None:
        hints = get_type_hints(type(self))
        for f in fields(self):
            if get_origin(hints[f.name]) is not Literal:
                continue
            choices = get_args(hints[f.name])
            value = getattr(self, f.name)
            if value not in choices:
                valid = ", ".join(str(c) for c in choices)
                raise ConfigError(f"model.{f.name}={value!r} is not valid; choose one of: {valid}")
        if not (math.isfinite(self.width) and 0 < self.width <= MAX_WIDTH):
            raise ConfigError(f"model.width={self.width} must be a finite number in (0, {MAX_WIDTH:g}] (1.0 is the paper's "
                              f"network; {MAX_WIDTH:g} has four times its parameters)")
        if self.num_classes < 1 or self.in_chans < 1:
            raise ConfigError("model.num_classes and model.in_chans must be >= 1")
        if self.stem_min_channels < 1:
            raise ConfigError(f"model.stem_min_channels={self.stem_min_channels} must be >= 1 (1: no floor)")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout={self.dropout} must be in [0, 1)")
        if not 0.0 < self.bn_eps < 1.0:
            raise ConfigError(f"model.bn_eps={self.bn_eps} must be in (0, 1) (BatchNorm divides by sqrt(var + eps); 1e-3 in the paper's slim code)")
        if not 0.0 <= self.bn_momentum <= 1.0:
            raise ConfigError(f"model.bn_momentum={self.bn_momentum} must be in [0, 1] (the weight of each batch in BatchNorm's running statistics)")
        from inception_repro.models.geometry import min_input_size  # geometry imports this module

        if self.stem == "light" and self.resolution != 299:
            raise ConfigError(
                f"model.stem=light has no Table 2 variant (model.resolution={self.resolution}): "
                "use model.stem=v3 or 7x7 for the resolution stems"
            )
        minimum = min_input_size(self.resolution, self.stem)
        if self.pixels < minimum:
            stem = "light" if self.stem == "light" else str(self.resolution)
            raise ConfigError(
                f"model.input_size={self.pixels} is too small for the {stem} stem: the minimum is {minimum} px"
            )

    @property
    def pixels(self) -> int:
        """The input side length actually fed to the network."""
        return self.resolution if self.input_size is None else int(self.input_size)

    @property
    def saved_values(self) -> float:
        """At least this many values one training image keeps for the backward pass (activations)."""
        per_pixel = SAVED_VALUES_PER_PIXEL["light" if self.stem == "light" else self.resolution]
        return per_pixel * self.width * self.pixels**2

    @property
    def grid_sizes(self) -> list[int]:
        """The three module grid sides, e.g. [35, 17, 8] (each run's summary records them)."""
        from inception_repro.models.geometry import grids  # geometry imports this module

        return list(grids(self.resolution, self.pixels, self.stem))

    def channels(self, c: int) -> int:
        """A layer's channel count under the width multiplier."""
        return max(1, int(c * self.width + 0.5))

    def stem_channels(self, c: int) -> int:
        """A stem convolution's channel count: ``channels(c)``, at least ``stem_min_channels``."""
        return max(self.stem_min_channels, self.channels(c))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "InceptionConfig":
        """Build from a plain mapping (e.g. the ``model`` config group), naming unknown keys."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown model key(s) {unknown}; valid keys: {', '.join(sorted(known))}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
