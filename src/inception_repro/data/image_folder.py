"""Class-per-folder image datasets (ImageNet, Imagenette, Imagewoof) with slim Inception preprocessing."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from PIL import Image
from torchvision import datasets

from inception_repro.data.loaders import ResumableTrainData
from inception_repro.data.transforms import check_in_chans, inception_eval_transform, inception_train_transform
from inception_repro.errors import DatasetCorruptError, DatasetNotFoundError

STAGE_SPLITS = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ()}


def load_image(path: str) -> Image.Image:
    """The RGB image at ``path``; an unreadable or truncated file raises ``DatasetCorruptError`` naming it."""
    try:
        with open(path, "rb") as f, Image.open(f) as image:
            return image.convert("RGB")
    except (OSError, SyntaxError, ValueError) as error:
        raise DatasetCorruptError(
            f"{path} is not a readable image ({error.__class__.__name__}: {error}); delete or replace it, "
            "then rerun the same command to resume"
        ) from None


class ImageFolderDataModule(ResumableTrainData, pl.LightningDataModule):
    """`<root>/<train_dir>/<class>/*.JPEG` and `<root>/<val_dir>/<class>/*.JPEG`.

    The test split is `<root>/<test_dir>` when `test_dir` is given, else the val split (ImageNet's
    labelled evaluation set is val). Every split must have the same class folders as train. A
    resumed run gets the same training order; per-image augmentations drawn in loader workers
    are not replayed.
    """

    def __init__(
        self,
        root: str | Path,
        input_size: int = 299,
        in_chans: int = 3,
        batch_size: int = 32,
        eval_batch_size: int = 64,
        num_workers: int = 8,
        val_dir: str = "val",
        train_dir: str = "train",
        test_dir: str | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.seed = seed
        root = Path(root)
        self.dirs = {"train": root / train_dir, "val": root / val_dir, "test": root / (test_dir or val_dir)}
        missing = sorted({str(d) for d in self.dirs.values() if not d.is_dir()})
        if missing:
            raise DatasetNotFoundError(
                f"image folder dataset incomplete, missing {', '.join(missing)}; expected "
                f"{root}/{train_dir}/<class>/*.JPEG and {root}/{val_dir}/<class>/*.JPEG"
            )
        self.class_names = tuple(self._classes(self.dirs["train"]))
        for split in ("val", "test"):
            if tuple(self._classes(self.dirs[split])) != self.class_names:
                raise DatasetCorruptError(f"{self.dirs[split]}: class folders differ from {self.dirs['train']}")
        self.num_classes = len(self.class_names)
        self.transforms = {
            "train": inception_train_transform(input_size, check_in_chans(in_chans)),
            "val": inception_eval_transform(input_size, in_chans),
            "test": inception_eval_transform(input_size, in_chans),
        }
        self.batch_size, self.eval_batch_size, self.num_workers = batch_size, eval_batch_size, num_workers
        self.splits: dict[str, datasets.ImageFolder] = {}

    @staticmethod
    def _classes(folder: Path) -> list[str]:
        try:
            return datasets.folder.find_classes(folder)[0]
        except FileNotFoundError as err:
            raise DatasetNotFoundError(f"{folder}: no class folders ({err})") from err

    def setup(self, stage: str | None = None) -> None:
        for split in STAGE_SPLITS.get(stage, ("train", "val", "test")):
            if split not in self.splits:
                try:
                    self.splits[split] = datasets.ImageFolder(
                        self.dirs[split], transform=self.transforms[split], loader=load_image
                    )
                except FileNotFoundError as err:
                    raise DatasetNotFoundError(f"{self.dirs[split]}: {err}") from err
