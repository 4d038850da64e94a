"""The Inception modules of the 35x35, 17x17 and 8x8 grids (§6 Fig. 5, 6, 7; model.txt)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from inception_repro.models.config import InceptionConfig
from inception_repro.models.layers import ConvBN, factorized_pair, seven_by_seven


def _avg_pool_3x3(x: Tensor) -> Tensor:
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1)


class Grid35Module(nn.Module):
    """35x35 module (torchvision's InceptionA): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avg-pool-1x1.

    The deepest branch is two 3x3 convolutions when ``factorize_5x5`` (§3.1 Fig. 5), one 5x5
    otherwise (Fig. 4). The 48->64 5x5 branch of model.txt is kept in both.
    """

    def __init__(self, cfg: InceptionConfig, in_ch: int, pool_features: int) -> None:
        super().__init__()
        c = cfg.channels
        self.branch1x1 = ConvBN(cfg, in_ch, c(64), 1)
        self.branch5x5 = nn.Sequential(ConvBN(cfg, in_ch, c(48), 1), ConvBN(cfg, c(48), c(64), 5, padding=2))
        if cfg.factorize_5x5:
            deep = factorized_pair(cfg, c(64), c(96), c(96), (3, 3), (3, 3))
        else:
            deep = [ConvBN(cfg, c(64), c(96), 5, padding=2)]
        self.branch3x3dbl = nn.Sequential(ConvBN(cfg, in_ch, c(64), 1), *deep)
        self.branch_pool = ConvBN(cfg, in_ch, c(pool_features), 1)
        self.out_channels = c(64) + c(64) + c(96) + c(pool_features)

    def forward(self, x: Tensor) -> Tensor:
        branches = [self.branch1x1(x), self.branch5x5(x), self.branch3x3dbl(x), self.branch_pool(_avg_pool_3x3(x))]
        return torch.cat(branches, 1)


class Grid17Module(nn.Module):
    """17x17 module (torchvision's InceptionC) with 7x7 receptive fields factorized as 1x7 + 7x1 (§3.2)."""

    def __init__(self, cfg: InceptionConfig, in_ch: int, inner: int) -> None:
        super().__init__()
        c = cfg.channels
        self.branch1x1 = ConvBN(cfg, in_ch, c(192), 1)
        self.branch7x7 = nn.Sequential(
            ConvBN(cfg, in_ch, c(inner), 1), *seven_by_seven(cfg, c(inner), c(inner), c(192), row_first=True)
        )
        self.branch7x7dbl = nn.Sequential(
            ConvBN(cfg, in_ch, c(inner), 1),
            *seven_by_seven(cfg, c(inner), c(inner), c(inner), row_first=False),
            *seven_by_seven(cfg, c(inner), c(inner), c(192), row_first=False),
        )
        self.branch_pool = ConvBN(cfg, in_ch, c(192), 1)
        self.out_channels = 4 * c(192)

    def forward(self, x: Tensor) -> Tensor:
        branches = [self.branch1x1(x), self.branch7x7(x), self.branch7x7dbl(x), self.branch_pool(_avg_pool_3x3(x))]
        return torch.cat(branches, 1)


class SplitConv(nn.Module):
    """A 1x3 and a 3x1 convolution side by side on the same input, concatenated (§6 Fig. 7)."""

    def __init__(self, cfg: InceptionConfig, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.row = ConvBN(cfg, in_ch, out_ch, (1, 3), padding=(0, 1))
        self.col = ConvBN(cfg, in_ch, out_ch, (3, 1), padding=(1, 0))
        self.out_channels = 2 * out_ch

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.row(x), self.col(x)], 1)


class Grid8Module(nn.Module):
    """8x8 module (torchvision's InceptionE) with expanded filter banks (§6 Fig. 7).

    The pooling branch averages, as torchvision and slim do (model.txt max-pools in the last one).
    """

    def __init__(self, cfg: InceptionConfig, in_ch: int) -> None:
        super().__init__()
        c = cfg.channels
        self.branch1x1 = ConvBN(cfg, in_ch, c(320), 1)
        self.branch3x3 = nn.Sequential(ConvBN(cfg, in_ch, c(384), 1), SplitConv(cfg, c(384), c(384)))
        self.branch3x3dbl = nn.Sequential(
            ConvBN(cfg, in_ch, c(448), 1), ConvBN(cfg, c(448), c(384), 3, padding=1), SplitConv(cfg, c(384), c(384))
        )
        self.branch_pool = ConvBN(cfg, in_ch, c(192), 1)
        self.out_channels = c(320) + 4 * c(384) + c(192)

    def forward(self, x: Tensor) -> Tensor:
        branches = [self.branch1x1(x), self.branch3x3(x), self.branch3x3dbl(x), self.branch_pool(_avg_pool_3x3(x))]
        return torch.cat(branches, 1)
