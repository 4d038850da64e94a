"""Data package: Fashion-MNIST resolution, split, batch preprocessing; image-folder data."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from conftest import fashion_mnist_gz_dir, needs_fashion_mnist
from inception_repro.data import (
    FashionMNISTDataModule,
    ImageFolderDataModule,
    inception_eval_transform,
    resolve_fashion_mnist,
)
from inception_repro.data import fashion_mnist_files
from inception_repro.data.fashion_mnist_files import FILES
from inception_repro.errors import DatasetCorruptError, DatasetNotFoundError

pytestmark = needs_fashion_mnist
THREE_WAYS = ("data.root=<dir>", "apt-get install dataset-fashion-mnist", "data.download=true")


@pytest.fixture(scope="module")
def fmnist_cache(tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("fmnist")
    assert resolve_fashion_mnist(fashion_mnist_gz_dir(), cache, download=False) == cache
    return cache


@pytest.fixture(scope="module")
def dm(fmnist_cache) -> FashionMNISTDataModule:
    module = FashionMNISTDataModule(cache_dir=fmnist_cache)
    module.setup("fit")
    return module


def _gz_copy(tmp_path: Path) -> Path:
    """A flat folder linking the four .gz files."""
    src = tmp_path / "src"
    src.mkdir()
    for name in FILES:
        (src / f"{name}.gz").symlink_to(fashion_mnist_gz_dir() / f"{name}.gz")
    return src


# --- resolving the files -------------------------------------------------------------------------


def test_resolve_unpacks_gz_copy_once(fmnist_cache):
    raw = fmnist_cache / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(FILES)  # no temp files left behind
    assert (raw / "train-images-idx3-ubyte").stat().st_size == 16 + 60000 * 28 * 28
    mtimes = {p: p.stat().st_mtime_ns for p in raw.iterdir()}
    assert resolve_fashion_mnist(None, fmnist_cache, download=False) == fmnist_cache
    assert {p: p.stat().st_mtime_ns for p in raw.iterdir()} == mtimes


def test_root_in_torchvision_layout_is_used_in_place(fmnist_cache, tmp_path):
    assert resolve_fashion_mnist(fmnist_cache, tmp_path / "cache", download=False) == fmnist_cache
    assert not (tmp_path / "cache").exists()


def test_root_with_gz_files_is_unpacked_into_cache(tmp_path):
    assert resolve_fashion_mnist(fashion_mnist_gz_dir(), tmp_path, download=False) == tmp_path
    assert sorted(p.name for p in (tmp_path / "FashionMNIST" / "raw").iterdir()) == sorted(FILES)


def test_truncated_gz_raises_corrupt_naming_it(tmp_path):
    src = _gz_copy(tmp_path)
    bad = src / "train-images-idx3-ubyte.gz"
    data = bad.read_bytes()
    bad.unlink()
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(DatasetCorruptError, match="train-images-idx3-ubyte.gz"):
        resolve_fashion_mnist(src, tmp_path / "cache", download=False)
    assert list((tmp_path / "cache" / "FashionMNIST" / "raw").iterdir()) == []


def test_wrong_counts_in_header_raise_corrupt(tmp_path):
    src = _gz_copy(tmp_path)
    (src / "train-images-idx3-ubyte.gz").unlink()  # a valid gzip, but of the 10k test images
    shutil.copy(fashion_mnist_gz_dir() / "t10k-images-idx3-ubyte.gz", src / "train-images-idx3-ubyte.gz")
    with pytest.raises(DatasetCorruptError, match="train-images-idx3-ubyte.gz.*60000"):
        resolve_fashion_mnist(src, tmp_path / "cache", download=False)


def test_corrupt_unpacked_file_in_root_raises(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in FILES:
        (raw / name).write_bytes(b"\x00\x00\x08\x03 not idx")
    with pytest.raises(DatasetCorruptError, match="train-images-idx3-ubyte"):
        resolve_fashion_mnist(tmp_path, tmp_path / "cache", download=False)


def _assert_names_three_ways(message: str) -> None:
    assert "\n" not in message
    for way in THREE_WAYS:
        assert way in message


def test_nothing_found_names_all_three_ways(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_mnist_files, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "absent")
    with pytest.raises(DatasetNotFoundError) as err:
        resolve_fashion_mnist(None, tmp_path / "cache", download=False)
    _assert_names_three_ways(str(err.value))


def test_empty_root_names_it_and_the_three_ways(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=f"data.root={tmp_path} ") as err:
        resolve_fashion_mnist(tmp_path, tmp_path / "cache", download=False)
    _assert_names_three_ways(str(err.value))


def test_failed_download_is_reported_as_not_found(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading\nno network")

    monkeypatch.setattr(fashion_mnist_files, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "absent")
    monkeypatch.setattr(fashion_mnist_files.datasets, "FashionMNIST", offline)
    with pytest.raises(DatasetNotFoundError, match="download .* failed: Error downloading no network") as err:
        resolve_fashion_mnist(None, tmp_path / "cache", download=True)
    _assert_names_three_ways(str(err.value))


# --- splits and loaders --------------------------------------------------------------------------


def test_split_sizes_and_disjointness(dm):
    train, val, test = (dm.splits[s] for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (55000, 5000, 10000)
    train_idx, val_idx = set(train.indices.tolist()), set(val.indices.tolist())
    assert train_idx.isdisjoint(val_idx) and len(train_idx | val_idx) == 60000


def test_split_is_deterministic_per_seed_and_honours_val_size(dm, fmnist_cache):
    same = FashionMNISTDataModule(cache_dir=fmnist_cache, split_seed=0)
    other = FashionMNISTDataModule(cache_dir=fmnist_cache, split_seed=1, val_size=1000)
    same.setup()
    other.setup()
    assert torch.equal(same.splits["val"].indices, dm.splits["val"].indices)
    assert torch.equal(same.splits["train"].images, dm.splits["train"].images)
    assert (len(other.splits["train"]), len(other.splits["val"])) == (59000, 1000)
    assert not torch.equal(other.splits["val"].indices, dm.splits["val"].indices[:1000])


def test_subsets_keep_the_first_n(dm, fmnist_cache):
    small = FashionMNISTDataModule(cache_dir=fmnist_cache, train_subset=100, val_subset=50, test_subset=30)
    small.setup()
    assert [len(small.splits[s]) for s in ("train", "val", "test")] == [100, 50, 30]
    assert torch.equal(small.splits["train"].indices, dm.splits["train"].indices[:100])


def test_loaders_yield_uint8_batches(dm):
    images, labels = next(iter(dm.train_dataloader()))
    assert images.dtype == torch.uint8 and images.shape == (64, 1, 28, 28)
    assert labels.dtype == torch.int64 and labels.shape == (64,) and 0 <= labels.min() <= labels.max() < 10
    assert len(dm.train_dataloader()) == 55000 // 64  # drop_last
    assert next(iter(dm.test_dataloader()))[0].shape == (256, 1, 28, 28)
    assert len(dm.class_names) == dm.num_classes == 10


# --- batch preprocessing -------------------------------------------------------------------------


@pytest.mark.parametrize("input_size,in_chans", [(28, 1), (28, 3), (99, 1), (99, 3)])
def test_preprocess_shape_range_and_channels(dm, input_size, in_chans):
    images = dm.splits["val"].images[:16]
    out = FashionMNISTDataModule(input_size=input_size, in_chans=in_chans).preprocess(images, train=False)
    assert out.dtype == torch.float32 and out.shape == (16, in_chans, input_size, input_size)
    assert out.min() == -1.0 and out.max() <= 1.0 and out.max() > 0.9
    assert torch.equal(out, out[:, :1].expand_as(out))  # gray channel replicated
    if input_size == 28:
        assert torch.equal(out[:, :1], images.float() / 127.5 - 1)


def test_in_chans_other_than_1_or_3_is_rejected():
    with pytest.raises(ValueError, match="in_chans"):
        FashionMNISTDataModule(in_chans=2)


def _flipped_count(out: torch.Tensor, plain: torch.Tensor) -> int:
    """How many images of `out` are mirrored copies of `plain`; fails on anything else."""
    flipped = [not torch.equal(o, p) for o, p in zip(out, plain)]
    assert all(torch.equal(o, p.flip(-1)) for o, p, f in zip(out, plain, flipped) if f)
    return sum(flipped)


def test_flips_only_in_training_and_follow_torch_seed(dm, monkeypatch):
    images = dm.splits["val"].images[:64]
    plain = dm.preprocess(images, train=False)
    torch.manual_seed(0)
    flipped = dm.preprocess(images, train=True)
    torch.manual_seed(0)
    assert torch.equal(dm.preprocess(images, train=True), flipped)
    assert 0 < _flipped_count(flipped, plain) < 64

    labels = torch.zeros(64, dtype=torch.long)
    monkeypatch.setattr(dm, "trainer", SimpleNamespace(training=False))
    assert torch.equal(dm.on_after_batch_transfer((images, labels), 0)[0], plain)
    monkeypatch.setattr(dm, "trainer", SimpleNamespace(training=True))
    assert 0 < _flipped_count(dm.on_after_batch_transfer((images, labels), 0)[0], plain) < 64

    no_flip = FashionMNISTDataModule(hflip=False)
    assert torch.equal(no_flip.preprocess(images, train=True), plain)


class _Probe(pl.LightningModule):
    """Records the batches the Trainer hands to each step."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3 * 32 * 32, 10)
        self.seen: list[tuple[str, torch.Tensor]] = []

    def training_step(self, batch, batch_idx):
        self.seen.append(("train", batch[0]))
        return F.cross_entropy(self.linear(batch[0].flatten(1)), batch[1])

    def validation_step(self, batch, batch_idx):
        self.seen.append(("val", batch[0]))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_trainer_receives_preprocessed_batches(fmnist_cache):
    module = FashionMNISTDataModule(
        cache_dir=fmnist_cache, input_size=32, in_chans=3, batch_size=8, eval_batch_size=8,
        train_subset=16, val_subset=8,
    )
    probe = _Probe()
    trainer = pl.Trainer(
        accelerator="cpu", devices=1, max_epochs=1, num_sanity_val_steps=0, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )
    trainer.fit(probe, datamodule=module)
    assert [stage for stage, _ in probe.seen] == ["train", "train", "val"]
    for _, images in probe.seen:
        assert images.dtype == torch.float32 and images.shape == (8, 3, 32, 32)
        assert -1.0 <= images.min() and images.max() <= 1.0


# --- image folders -------------------------------------------------------------------------------


@pytest.fixture
def image_root(tmp_path, dm) -> Path:
    """train/ and val/ with two classes of real Fashion-MNIST images (PNG and JPEG)."""
    val = dm.splits["val"]
    for split, per_class in (("train", 4), ("val", 2)):
        for label, cls in ((0, "tshirt"), (7, "sneaker")):
            folder = tmp_path / split / cls
            folder.mkdir(parents=True)
            picks = [i for i, y in enumerate(val.labels) if y == label][:per_class]
            for n, i in enumerate(picks):
                suffix = "JPEG" if n % 2 else "png"
                Image.fromarray(val.images[i, 0].numpy()).save(folder / f"{n}.{suffix}")
    return tmp_path


@pytest.mark.parametrize("in_chans", [3, 1])
def test_image_folder_batches(image_root, in_chans):
    module = ImageFolderDataModule(image_root, input_size=40, in_chans=in_chans, batch_size=4,
                                   eval_batch_size=4, num_workers=0)
    assert module.class_names == ("sneaker", "tshirt") and module.num_classes == 2
    module.setup("fit")
    for loader in (module.train_dataloader(), module.val_dataloader()):
        images, labels = next(iter(loader))
        assert images.dtype == torch.float32 and images.shape == (4, in_chans, 40, 40)
        assert -1.0 <= images.min() and images.max() <= 1.0 and images.min() < images.max()
        assert set(labels.tolist()) <= {0, 1}
    first, second = (next(iter(module.val_dataloader()))[0] for _ in range(2))
    assert torch.equal(first, second)  # evaluation is deterministic


def test_image_folder_test_split_defaults_to_val(image_root):
    module = ImageFolderDataModule(image_root, input_size=40, num_workers=0)
    module.setup("test")
    assert module.dirs["test"] == image_root / "val" and len(module.splits["test"]) == 4


def test_image_folder_missing_layout(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"train/<class>/\*\.JPEG"):
        ImageFolderDataModule(tmp_path)
    (tmp_path / "train" / "a").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError, match=f"missing {tmp_path / 'val'};"):
        ImageFolderDataModule(tmp_path)


def test_image_folder_class_mismatch(image_root):
    shutil.rmtree(image_root / "val" / "tshirt")
    with pytest.raises(DatasetCorruptError, match="class folders differ"):
        ImageFolderDataModule(image_root)


def test_eval_transform_is_central_crop_then_resize():
    out = inception_eval_transform(299)(Image.new("RGB", (500, 400), (255, 0, 0)))
    assert out.shape == (3, 299, 299)
    assert torch.allclose(out[0], torch.ones(299, 299)) and torch.allclose(out[1], -torch.ones(299, 299))
