"""The one DataLoader recipe every data module uses, and a train order that resumes mid-epoch.

The training order is a permutation seeded by (seed, epoch), so it does not depend on torch's
global RNG. Each checkpoint records how many batches of the current epoch were trained
(``ResumableTrainData.state_dict``); a resumed run skips exactly those and goes on in the same
order. Every loader has its own generator, so creating an iterator (which draws a worker base
seed) never consumes the global RNG that dropout and flips draw from.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler

# Lightning looks for resumability on the DataLoader; here the data module holds it (ResumableTrainData).
warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")


class ResumableSampler(DistributedSampler):
    """This rank's share of a permutation seeded by ``seed + epoch``; ``skip`` samples are left out once.

    A ``DistributedSampler``, so Lightning uses it as it is under DDP instead of wrapping it.
    """

    def __init__(self, dataset: Dataset, seed: int) -> None:
        distributed = dist.is_available() and dist.is_initialized()
        super().__init__(
            dataset,
            num_replicas=dist.get_world_size() if distributed else 1,
            rank=dist.get_rank() if distributed else 0,
            shuffle=True,
            seed=seed,
            drop_last=True,
        )
        self.skip = 0

    def __iter__(self):
        indices = list(super().__iter__())[self.skip :]
        self.skip = 0
        return iter(indices)


def make_loader(dataset: Dataset, batch_size: int, num_workers: int, train: bool, seed: int = 0) -> DataLoader:
    """Shuffle (resumably) and drop the last partial batch when training; pin memory only with CUDA."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=ResumableSampler(dataset, seed) if train else None,
        drop_last=train,
        num_workers=num_workers,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=num_workers > 0,
        generator=torch.Generator().manual_seed(seed),
    )


class ResumableTrainData:
    """Mixin for a LightningDataModule: its three loaders over ``splits`` (train, val, test
    datasets), and its checkpoint state, the train loader's position.

    The module sets ``seed``, ``batch_size``, ``eval_batch_size``, ``num_workers`` and ``splits``.
    """

    seed: int
    batch_size: int
    eval_batch_size: int
    num_workers: int
    splits: dict[str, Dataset]
    trainer: Any
    _sampler: ResumableSampler | None = None
    _resume_at: tuple[int, int] | None = None

    def train_loader(self, dataset: Dataset, num_workers: int) -> DataLoader:
        loader = make_loader(dataset, self.batch_size, num_workers, train=True, seed=self.seed)
        self._sampler = loader.sampler
        if self._resume_at is not None:
            epoch, batches = self._resume_at
            self._sampler.set_epoch(epoch)
            self._sampler.skip = batches * self.batch_size
            self._resume_at = None
        return loader

    def train_dataloader(self) -> DataLoader:
        return self.train_loader(self.splits["train"], self.num_workers)

    def val_dataloader(self) -> DataLoader:
        return make_loader(self.splits["val"], self.eval_batch_size, self.num_workers, train=False)

    def test_dataloader(self) -> DataLoader:
        return make_loader(self.splits["test"], self.eval_batch_size, self.num_workers, train=False)

    def state_dict(self) -> dict[str, int]:
        """The epoch of the train order and how many of its batches this rank has trained; after an
        epoch's last batch, the next epoch and 0."""
        if self._sampler is None or self.trainer is None:
            return {}
        epoch, batches = self._sampler.epoch, self.trainer.fit_loop.epoch_loop.batch_progress.current.ready
        if batches >= len(self._sampler) // self.batch_size:
            epoch, batches = epoch + 1, 0
        return {"epoch": epoch, "batches": batches}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state:
            self._resume_at = (int(state["epoch"]), int(state["batches"]))
