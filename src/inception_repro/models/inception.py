"""Inception-v3 (§6, Fig. 5-7, Table 1; model.txt), built from an ``InceptionConfig``."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn
from torch.nn import functional as F

from inception_repro.models.config import InceptionConfig
from inception_repro.models.heads import AuxHead
from inception_repro.models.modules import Grid8Module, Grid17Module, Grid35Module
from inception_repro.models.reduction import Reduce17, Reduce35
from inception_repro.models.stem import Stem


class InceptionOutputs(NamedTuple):
    """What a training-mode forward returns when the auxiliary head is on."""

    logits: Tensor
    aux_logits: Tensor


class InceptionV3(nn.Module):
    """The network. Training mode with an aux head returns ``InceptionOutputs``; otherwise logits."""

    def __init__(self, cfg: InceptionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.stem = Stem(cfg)
        ch = self.stem.out_channels
        grid35 = []
        for pool_features in (32, 64, 64):
            grid35.append(Grid35Module(cfg, ch, pool_features))
            ch = grid35[-1].out_channels
        self.grid35 = nn.Sequential(*grid35)
        self.reduce35 = Reduce35(cfg, ch)
        ch = self.reduce35.out_channels
        grid17 = []
        for inner in (128, 160, 160, 192):
            grid17.append(Grid17Module(cfg, ch, inner))  # the first takes the reduction's width, the rest 4 x c(192)
            ch = grid17[-1].out_channels
        self.grid17 = nn.Sequential(*grid17)
        self.aux_head = AuxHead(cfg, ch) if cfg.aux != "none" else None
        self.reduce17 = Reduce17(cfg, ch)
        ch = self.reduce17.out_channels
        first8 = Grid8Module(cfg, ch)
        self.grid8 = nn.Sequential(first8, Grid8Module(cfg, first8.out_channels))
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(first8.out_channels, cfg.num_classes)
        self.apply(_init_weights)

    def forward(self, x: Tensor) -> Tensor | InceptionOutputs:
        # Shapes of the paper's network (width 1.0, 299 px input, Table 1): N x 3 x 299 x 299
        x = self.stem(x)  # N x 192 x 35 x 35
        x = self.grid35(x)  # N x 288 x 35 x 35 (Fig. 5 modules)
        x = self.reduce35(x)  # N x 768 x 17 x 17 (Fig. 10 reduction)
        x = self.grid17(x)  # N x 768 x 17 x 17 (Fig. 6 modules)
        aux = self.aux_head(x) if self.aux_head is not None and self.training else None  # N x classes (§4)
        x = self.reduce17(x)  # N x 1280 x 8 x 8
        x = self.grid8(x)  # N x 2048 x 8 x 8 (Fig. 7 modules)
        x = self.dropout(F.adaptive_avg_pool2d(x, 1)).flatten(1)  # N x 2048
        logits = self.classifier(x)  # N x classes
        return logits if aux is None else InceptionOutputs(logits, aux)


def _init_weights(module: nn.Module) -> None:
    """torchvision's init: truncated normal (std 0.1, cut at +-2; aux head 0.01 / 0.001), BN = identity."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.trunc_normal_(module.weight, mean=0.0, std=getattr(module, "init_std", 0.1), a=-2, b=2)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def build_model(cfg: InceptionConfig | None = None, **overrides) -> InceptionV3:
    """Build the network from a config (defaults: Inception-v3 with the BN-auxiliary head)."""
    if cfg is None:
        cfg = InceptionConfig(**overrides)
    elif overrides:
        cfg = InceptionConfig(**{**cfg.to_dict(), **overrides})
    return InceptionV3(cfg)
