"""Inception-v3 and its paper variants."""

from inception_repro.models.config import InceptionConfig
from inception_repro.models.inception import InceptionOutputs, InceptionV3, build_model

__all__ = ["InceptionConfig", "InceptionOutputs", "InceptionV3", "build_model"]
