"""Input pipelines for the GPU bench: synthetic JPEG folders, and batches decoded on the device."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset
from torchvision import datasets
from torchvision.io import decode_jpeg
from torchvision.transforms import v2

from inception_repro.data.loaders import make_loader


def write_jpeg_folder(root: Path, classes: int, per_class: int, size: tuple[int, int] = (500, 375), seed: int = 0) -> Path:
    """``root``/train/<class>/*.JPEG and ``root``/val/<class>/*.JPEG of smooth random images
    (ImageNet's typical 500 x 375, quality 90): an ImageFolder dataset to time the loaders on."""
    from PIL import Image

    g = torch.Generator().manual_seed(seed)
    width, height = size
    for split, count in (("train", per_class), ("val", 1)):
        for c in range(classes):
            folder = root / split / f"class{c:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                coarse = torch.rand(1, 3, height // 16, width // 16, generator=g)
                image = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bilinear")
                pixels = (image[0].permute(1, 2, 0) * 255).to(torch.uint8).numpy()
                Image.fromarray(pixels).save(folder / f"{i:05d}.JPEG", quality=90)
    return root


class EncodedImages(Dataset):
    """(the file's JPEG bytes, label) for each image of an ImageFolder. Plain bytes: they cross from
    loader workers pickled, not as shared-memory tensors (one file descriptor each)."""

    def __init__(self, folder: Path) -> None:
        self.samples = datasets.ImageFolder(folder).samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[bytes, int]:
        path, label = self.samples[i]
        return Path(path).read_bytes(), label


def _as_lists(items: list[tuple[bytes, int]]) -> tuple[list[bytes], torch.Tensor]:
    return [data for data, _ in items], torch.tensor([label for _, label in items])


class DeviceDecodedBatches:
    """Training batches of an ImageFolder decoded on ``device`` (torchvision.io.decode_jpeg, nvJPEG on
    CUDA): loader workers only read files; each image is then inception-cropped (scale 0.05-1),
    resized to ``input_size``, flipped at random and scaled to [-1, 1] on the device. No colour
    jitter: this times the decode path, it is not the training recipe."""

    def __init__(self, folder: Path, batch_size: int, input_size: int, device: torch.device, num_workers: int) -> None:
        self.loader: DataLoader = make_loader(EncodedImages(folder), batch_size, num_workers, train=True)
        self.loader.collate_fn = _as_lists
        self.device = device
        self.crop = v2.RandomResizedCrop(input_size, scale=(0.05, 1.0), ratio=(3 / 4, 4 / 3), antialias=True)
        self.flip = v2.RandomHorizontalFlip()

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for encoded, labels in self.loader:
            images = decode_jpeg([torch.frombuffer(bytearray(data), dtype=torch.uint8) for data in encoded],
                                 device=self.device)
            x = torch.stack([self.flip(self.crop(image)) for image in images])
            yield x.float() / 127.5 - 1.0, labels.to(self.device, non_blocking=True)
