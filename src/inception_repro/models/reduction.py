"""Grid-size reduction modules, 35->17 and 17->8 (§5, Fig. 9 and 10)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from inception_repro.models.config import InceptionConfig
from inception_repro.models.layers import ConvBN


def _max_pool(x: Tensor) -> Tensor:
    return F.max_pool2d(x, kernel_size=3, stride=2)


def reducing_conv(cfg: InceptionConfig, in_ch: int, out_ch: int) -> ConvBN:
    """A branch's last 3x3: stride 2 in the efficient module, stride 1 ('same') when a pool does the reducing."""
    if cfg.grid_reduction == "efficient":
        return ConvBN(cfg, in_ch, out_ch, 3, stride=2)
    return ConvBN(cfg, in_ch, out_ch, 3, padding=1)


class GridReduction(nn.Module):
    """Convolution branches plus a pooling branch that passes the input's channels through.

    ``efficient`` (Fig. 10) runs stride-2 branches beside a stride-2 max-pool and concatenates;
    ``pool_first`` (Fig. 9 left) max-pools, then runs the branches at stride 1 (a representational
    bottleneck); ``conv_first`` (Fig. 9 right) runs them at stride 1 on the full grid, then
    max-pools (about 3x the cost). All three give the same output grid and width.
    """

    def __init__(self, cfg: InceptionConfig, in_ch: int, branches: list[nn.Module]) -> None:
        super().__init__()
        self.mode = cfg.grid_reduction
        self.out_channels = in_ch + sum(b.out_channels for b in branches)

    def reduce(self, x: Tensor, branches: list[nn.Module]) -> Tensor:
        if self.mode == "pool_first":
            x = _max_pool(x)
        outputs = [branch(x) for branch in branches]
        outputs.append(_max_pool(x) if self.mode == "efficient" else x)
        y = torch.cat(outputs, 1)
        return _max_pool(y) if self.mode == "conv_first" else y


class Branch(nn.Sequential):
    """A sequence of ConvBN layers whose width is that of its last layer."""

    @property
    def out_channels(self) -> int:
        return self[-1].out_channels


class Reduce35(GridReduction):
    """35x35x288 -> 17x17x768 (torchvision's InceptionB / Mixed_6a)."""

    def __init__(self, cfg: InceptionConfig, in_ch: int) -> None:
        c = cfg.channels
        branch3x3 = Branch(reducing_conv(cfg, in_ch, c(384)))
        branch3x3dbl = Branch(
            ConvBN(cfg, in_ch, c(64), 1), ConvBN(cfg, c(64), c(96), 3, padding=1), reducing_conv(cfg, c(96), c(96))
        )
        super().__init__(cfg, in_ch, [branch3x3, branch3x3dbl])
        self.branch3x3, self.branch3x3dbl = branch3x3, branch3x3dbl

    def forward(self, x: Tensor) -> Tensor:
        return self.reduce(x, [self.branch3x3, self.branch3x3dbl])


class Reduce17(GridReduction):
    """17x17x768 -> 8x8x1280 (torchvision's InceptionD / Mixed_7a)."""

    def __init__(self, cfg: InceptionConfig, in_ch: int) -> None:
        c = cfg.channels
        branch3x3 = Branch(ConvBN(cfg, in_ch, c(192), 1), reducing_conv(cfg, c(192), c(320)))
        branch7x7x3 = Branch(
            ConvBN(cfg, in_ch, c(192), 1),
            ConvBN(cfg, c(192), c(192), (1, 7), padding=(0, 3)),
            ConvBN(cfg, c(192), c(192), (7, 1), padding=(3, 0)),
            reducing_conv(cfg, c(192), c(192)),
        )
        super().__init__(cfg, in_ch, [branch3x3, branch7x7x3])
        self.branch3x3, self.branch7x7x3 = branch3x3, branch7x7x3

    def forward(self, x: Tensor) -> Tensor:
        return self.reduce(x, [self.branch3x3, self.branch7x7x3])
