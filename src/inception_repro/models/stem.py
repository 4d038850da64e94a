"""The stem (§6 Table 1, §9 Table 2): the layers before the first Inception module."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

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
        self.out_channels = cfg.stem_channels(192)

    @staticmethod
    def _layers(cfg: InceptionConfig) -> OrderedDict[str, nn.Module]:
        c = cfg.stem_channels
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
