"""Input preprocessing: per-batch for in-memory grayscale data, per-image (slim Inception style) for folders.

All outputs are float images scaled to [-1, 1], the paper's (slim's) input range.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms import v2

EVAL_CENTRAL_FRACTION = 0.875


def check_in_chans(in_chans: int) -> int:
    """Only 1 (grayscale) and 3 (RGB) channel inputs are supported."""
    if in_chans not in (1, 3):
        raise ValueError(f"in_chans must be 1 or 3, got {in_chans}")
    return in_chans


class BatchPreprocess(nn.Module):
    """uint8 grayscale batch [B,1,H,W] -> float [B,in_chans,S,S] in [-1, 1].

    Bilinear resize to `input_size` (skipped when it already matches), optional per-image random
    horizontal flip (p=0.5, drawn from torch's global CPU RNG so seeding torch reproduces it on any
    device). in_chans=1 keeps the gray channel; in_chans=3 replicates it into three identical channels.
    """

    def __init__(self, input_size: int, in_chans: int = 1) -> None:
        super().__init__()
        self.input_size = input_size
        self.in_chans = check_in_chans(in_chans)

    def forward(self, images: torch.Tensor, flip: bool = False) -> torch.Tensor:
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 1:
            raise ValueError(f"expected a uint8 [B,1,H,W] batch, got {images.dtype} {tuple(images.shape)}")
        if flip:  # before the resize, which is mirror-symmetric, so flipping the small uint8 images is cheapest
            # non_blocking: the copy does not wait for the device's queued work (no per-step sync)
            mask = (torch.rand(images.shape[0]) < 0.5).to(images.device, non_blocking=True)
            images = torch.where(mask[:, None, None, None], images.flip(-1), images)
        x = images.float() / 127.5 - 1.0
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(x, size=self.input_size, mode="bilinear", align_corners=False, antialias=False)
            x.clamp_(-1.0, 1.0)  # bilinear weights can overshoot by one float ulp
        return x.expand(-1, self.in_chans, -1, -1).contiguous()


def _to_unit_range(in_chans: int) -> list[v2.Transform]:
    """Image -> float tensor in [-1, 1] with `in_chans` channels."""
    gray = [v2.Grayscale(num_output_channels=1)] if in_chans == 1 else []
    half = [0.5] * in_chans
    return [*gray, v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean=half, std=half)]


def inception_train_transform(input_size: int, in_chans: int = 3) -> v2.Compose:
    """slim's Inception training preprocessing: inception crop, flip, brightness/saturation jitter.

    torchvision's brightness is a random factor in [1 - 32/255, 1 + 32/255]; slim adds a random
    delta in [-32/255, 32/255] instead.
    """
    return v2.Compose([
        v2.RandomResizedCrop(input_size, scale=(0.05, 1.0), ratio=(3 / 4, 4 / 3), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.ColorJitter(brightness=32 / 255, saturation=(0.5, 1.5)),
        *_to_unit_range(check_in_chans(in_chans)),
    ])


def inception_eval_transform(input_size: int, in_chans: int = 3) -> v2.Compose:
    """Central crop of 0.875 of the image, resized to `input_size` (resize then center-crop)."""
    return v2.Compose([
        v2.Resize(round(input_size / EVAL_CENTRAL_FRACTION), antialias=True),
        v2.CenterCrop(input_size),
        *_to_unit_range(check_in_chans(in_chans)),
    ])
