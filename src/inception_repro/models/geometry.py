"""Grid sizes through the network for a stem and an input size (§6 Table 1, §9 Table 2)."""

from __future__ import annotations

from typing import NamedTuple


class StemLayout(NamedTuple):
    """How Table 2's receptive-field variants differ: the first stride and the first max-pool."""

    first_stride: int
    first_pool: bool


STEM_LAYOUTS: dict[int, StemLayout] = {
    299: StemLayout(first_stride=2, first_pool=True),
    151: StemLayout(first_stride=1, first_pool=True),
    79: StemLayout(first_stride=1, first_pool=False),
}


def conv_out(n: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output side of a convolution or pooling window over ``n`` pixels."""
    return (n + 2 * padding - kernel) // stride + 1


class Grids(NamedTuple):
    """Side lengths of the three Inception stages (35x35, 17x17 and 8x8 at 299 px)."""

    g35: int
    g17: int
    g8: int


def stem_out(resolution: int, pixels: int, stem: str = "v3") -> int:
    """Side of the stem's output (the first module grid) for ``pixels`` wide inputs.

    The ``light`` stem is one padded stride-1 3x3 convolution, so its grid is the input's; the
    ``v3`` and ``7x7`` stems give the same grid (``stem.Stem``), set by Table 2's ``resolution``.
    """
    if stem == "light":
        return pixels
    layout = STEM_LAYOUTS[resolution]
    n = conv_out(pixels, 3, layout.first_stride)  # Conv2d_1a_3x3
    n = conv_out(n, 3)  # Conv2d_2a_3x3 (valid); Conv2d_2b_3x3 is padded
    if layout.first_pool:
        n = conv_out(n, 3, 2)
    n = conv_out(n, 3)  # Conv2d_4a_3x3 after the 1x1
    return conv_out(n, 3, 2)


def grids(resolution: int, pixels: int, stem: str = "v3") -> Grids:
    """Grid sides for the ``resolution`` stem fed ``pixels`` wide inputs (may be < 1 if too small)."""
    g35 = stem_out(resolution, pixels, stem)
    g17 = conv_out(g35, 3, 2)
    return Grids(g35, g17, conv_out(g17, 3, 2))


def min_input_size(resolution: int, stem: str = "v3") -> int:
    """Smallest input side that leaves at least a 1x1 grid at the 8x8 stage."""
    pixels = 1
    while min(grids(resolution, pixels, stem)) < 1:
        pixels += 1
    return pixels
