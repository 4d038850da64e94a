"""The auxiliary classifier (§4)."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from inception_repro.models.config import InceptionConfig
from inception_repro.models.layers import ConvBN


class AuxHead(nn.Module):
    """Side classifier on the last 17x17 module: avg-pool 5/3, 1x1 128, "FC" 768 (a 5x5 conv), linear.

    ``aux="bn"`` batch-normalizes the 768-wide layer (the paper's BN-auxiliary); ``aux="plain"``
    gives it a bias and a ReLU only. On grids smaller than 17x17 (small inputs) the pooling is
    adaptive to the same 5x5 map, so the head runs at every supported input size.
    """

    PAPER_GRID = 17

    def __init__(self, cfg: InceptionConfig, in_ch: int) -> None:
        super().__init__()
        c = cfg.channels
        self.conv0 = ConvBN(cfg, in_ch, c(128), 1)
        if cfg.aux == "bn":
            self.conv1 = ConvBN(cfg, c(128), c(768), 5)
            self.conv1.conv.init_std = 0.01
        else:
            self.conv1 = nn.Sequential(nn.Conv2d(c(128), c(768), 5), nn.ReLU(inplace=True))
            self.conv1[0].init_std = 0.01
        self.fc = nn.Linear(c(768), cfg.num_classes)
        self.fc.init_std = 0.001

    def forward(self, x: Tensor) -> Tensor:
        if min(x.shape[-2:]) >= self.PAPER_GRID:
            x = F.avg_pool2d(x, kernel_size=5, stride=3)
        else:
            x = F.adaptive_avg_pool2d(x, 5)
        x = self.conv1(self.conv0(x))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))
