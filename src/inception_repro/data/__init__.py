"""Datasets: Fashion-MNIST in memory (cpu scale) and class-per-folder images (GPU and paper scales)."""

from inception_repro.data.fashion_mnist import FashionMNISTDataModule
from inception_repro.data.fashion_mnist_files import DEBIAN_FASHION_MNIST_DIR, resolve_fashion_mnist
from inception_repro.data.image_folder import ImageFolderDataModule
from inception_repro.data.transforms import BatchPreprocess, inception_eval_transform, inception_train_transform

__all__ = [
    "DEBIAN_FASHION_MNIST_DIR",
    "BatchPreprocess",
    "FashionMNISTDataModule",
    "ImageFolderDataModule",
    "inception_eval_transform",
    "inception_train_transform",
    "resolve_fashion_mnist",
]
