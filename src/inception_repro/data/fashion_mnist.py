"""Fashion-MNIST held in memory as uint8; resized and scaled per batch after transfer to the device."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import Dataset
from torchvision import datasets

from inception_repro.data.fashion_mnist_files import resolve_fashion_mnist
from inception_repro.data.loaders import ResumableTrainData
from inception_repro.data.transforms import BatchPreprocess
from inception_repro.errors import ConfigError

TRAIN_SIZE = 60000
TEST_SIZE = 10000


class InMemoryImages(Dataset):
    """(uint8 [1,H,W] image, int label) pairs for the rows `indices` of in-memory tensors."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor) -> None:
        self.indices = indices
        self.images = images[indices].unsqueeze(1)
        self.labels = labels[indices].tolist()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], self.labels[i]


class FashionMNISTDataModule(ResumableTrainData, pl.LightningDataModule):
    """Fashion-MNIST: train/val = a fixed split of the 60k training images (seeded by `split_seed`),
    test = the official 10k. `*_subset=N` keeps the first N of a split (train/val are already shuffled).
    The training order is seeded by `seed` and resumes mid-epoch from a checkpoint (`ResumableTrainData`).
    """

    num_classes = 10
    class_names = tuple(datasets.FashionMNIST.classes)

    def __init__(
        self,
        root: str | Path | None = None,
        cache_dir: str | Path = "data",
        download: bool = False,
        input_size: int = 28,
        in_chans: int = 1,
        batch_size: int = 64,
        eval_batch_size: int = 256,
        num_workers: int = 0,
        val_size: int = 5000,
        split_seed: int = 0,
        train_subset: int | None = None,
        val_subset: int | None = None,
        test_subset: int | None = None,
        hflip: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not 0 < val_size < TRAIN_SIZE:
            raise ConfigError(f"data.val_size={val_size} must be in [1, {TRAIN_SIZE})")
        available = {"train": TRAIN_SIZE - val_size, "val": val_size, "test": TEST_SIZE}
        for split, subset in (("train", train_subset), ("val", val_subset), ("test", test_subset)):
            if subset is not None and subset > available[split]:
                raise ConfigError(f"data.{split}_subset={subset} is more than the {available[split]} {split} images "
                                  f"(Fashion-MNIST with data.val_size={val_size}); use at most {available[split]}")
        if batch_size < 1 or eval_batch_size < 1:
            raise ConfigError(f"data.batch_size={batch_size} and data.eval_batch_size={eval_batch_size} must be >= 1")
        if train_subset is not None and train_subset < batch_size:
            raise ConfigError(
                f"data.train_subset={train_subset} is smaller than data.batch_size={batch_size}: no full training batch"
            )
        self.seed = seed
        self.root, self.cache_dir, self.download = root, cache_dir, download
        self.input_size, self.in_chans, self.hflip = input_size, in_chans, hflip
        self.batch_size, self.eval_batch_size, self.num_workers = batch_size, eval_batch_size, num_workers
        self.val_size, self.split_seed = val_size, split_seed
        self.subsets = {"train": train_subset, "val": val_subset, "test": test_subset}
        self.batch_preprocess = BatchPreprocess(input_size, in_chans)
        self.splits: dict[str, InMemoryImages] = {}

    def prepare_data(self) -> None:
        resolve_fashion_mnist(self.root, self.cache_dir, self.download)

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        root = str(resolve_fashion_mnist(self.root, self.cache_dir, self.download))
        train = datasets.FashionMNIST(root, train=True)
        test = datasets.FashionMNIST(root, train=False)
        perm = torch.randperm(TRAIN_SIZE, generator=torch.Generator().manual_seed(self.split_seed))
        indices = {
            "train": perm[self.val_size:],
            "val": perm[: self.val_size],
            "test": torch.arange(len(test.targets)),
        }
        for split, idx in indices.items():
            source = test if split == "test" else train
            self.splits[split] = InMemoryImages(source.data, source.targets, idx[: self.subsets[split]])

    def preprocess(self, images: torch.Tensor, train: bool) -> torch.Tensor:
        """uint8 [B,1,28,28] -> float [B,in_chans,input_size,input_size] in [-1,1]; random flips if `train`."""
        return self.batch_preprocess(images, flip=train and self.hflip)

    def on_after_batch_transfer(self, batch: tuple[torch.Tensor, torch.Tensor], dataloader_idx: int):
        images, labels = batch
        training = self.trainer is not None and self.trainer.training
        return self.preprocess(images, train=training), labels
