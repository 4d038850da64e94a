"""The basic convolution unit: convolution, batch norm and (optionally) ReLU (§10 "BN everywhere")."""

from __future__ import annotations

from torch import Tensor, nn

from inception_repro.models.config import InceptionConfig


class ConvBN(nn.Module):
    """Bias-free convolution + BatchNorm, followed by ReLU unless ``relu`` is False (Fig. 2 "linear")."""

    def __init__(
        self,
        cfg: InceptionConfig,
        in_ch: int,
        out_ch: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
        relu: bool = True,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_ch, eps=cfg.bn_eps, momentum=cfg.bn_momentum)
        self.relu = relu
        self.out_channels = out_ch

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn(self.conv(x))
        return nn.functional.relu(x, inplace=True) if self.relu else x


def same_padding(kernel: tuple[int, int]) -> tuple[int, int]:
    """Padding that keeps the grid size for an odd kernel."""
    return (kernel[0] // 2, kernel[1] // 2)


def factorized_pair(
    cfg: InceptionConfig, in_ch: int, mid_ch: int, out_ch: int, first: tuple[int, int], second: tuple[int, int]
) -> list[ConvBN]:
    """Two stacked convolutions replacing a larger one; the first one's activation is Fig. 2's choice."""
    linear = cfg.factorized_activation == "linear"
    return [
        ConvBN(cfg, in_ch, mid_ch, first, padding=same_padding(first), relu=not linear),
        ConvBN(cfg, mid_ch, out_ch, second, padding=same_padding(second)),
    ]


def seven_by_seven(cfg: InceptionConfig, in_ch: int, mid_ch: int, out_ch: int, row_first: bool) -> list[ConvBN]:
    """A 7x7 receptive field on the 17x17 grid: 1x7 + 7x1 (§3.2, Fig. 6) or one full 7x7."""
    if not cfg.asymmetric:
        return [ConvBN(cfg, in_ch, out_ch, 7, padding=3)]
    row, col = (1, 7), (7, 1)
    return factorized_pair(cfg, in_ch, mid_ch, out_ch, *((row, col) if row_first else (col, row)))
