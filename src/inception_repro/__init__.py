"""Reproducible ablations of Szegedy et al., "Rethinking the Inception Architecture" (Inception-v3)."""

__version__ = "0.1.0"
