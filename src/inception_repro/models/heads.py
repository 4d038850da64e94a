"""The stem (§6 Table 1, §9 Table 2) and the auxiliary classifier (§4)."""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn
from torch.nn import functional as F

from inception_repro.models.config import InceptionConfig
from inception_repro.models.geometry import STEM_LAYOUTS
from inception_repro.models.layers import ConvBN


class Stem(nn.Sequential):
    """Input -> 35x35x192: convolutions to 64 channels, max-pool, 1x1 80, 3x3 192, max-pool.

    ``stem="v3"`` starts with three 3x3 convolutions (the "Factorized 7x7" of Table 3);
    ``stem="7x7"`` with one 7x7 convolution of the same stride, padded 1 at stride 1 so every
    later grid matches. Table 2's variants set the first stride and keep or drop the first pool.
    ``stem="light"`` (not the paper's) is one padded stride-1 3x3 convolution to 192 channels: the
    input, resized to the first module grid, is that grid.
    """

    def __init__(self, cfg: InceptionConfig) -> None:
        super().__init__(self._layers(cfg))
        self.out_channels = cfg.channels(192)

    @staticmethod
    def _layers(cfg: InceptionConfig) -> OrderedDict[str, nn.Module]:
        c = cfg.channels
        if cfg.stem == "light":
            return OrderedDict(conv=ConvBN(cfg, cfg.in_chans, c(192), 3, padding=1))
        layout = STEM_LAYOUTS[cfg.resolution]
        s = layout.first_stride
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        if cfg.stem == "v3":
            layers["conv1"] = ConvBN(cfg, cfg.in_chans, c(32), 3, stride=s)
            layers["conv2"] = ConvBN(cfg, c(32), c(32), 3)
            layers["conv3"] = ConvBN(cfg, c(32), c(64), 3, padding=1)
        else:
            layers["conv7x7"] = ConvBN(cfg, cfg.in_chans, c(64), 7, stride=s, padding=0 if s == 2 else 1)
        if layout.first_pool:
            layers["pool1"] = nn.MaxPool2d(3, stride=2)
        layers["conv4"] = ConvBN(cfg, c(64), c(80), 1)
        layers["conv5"] = ConvBN(cfg, c(80), c(192), 3)
        layers["pool2"] = nn.MaxPool2d(3, stride=2)
        return layers


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
