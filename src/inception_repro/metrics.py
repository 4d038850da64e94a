"""What a run measures, declared once: top-1 and top-5 accuracy (§8 reports their errors) on the
validation and test splits, with the EMA weights (the paper's evaluation, §8) and the raw ones.

The LightningModule logs ``<split>/<accuracy>`` (EMA weights when EMA is on, else the raw ones) and
``<split>/<accuracy>_raw``; the summary records each as ``<split>_<accuracy>[_raw]``. The plots,
the W&B report and the run store read these names from here.
"""

from __future__ import annotations

import re

SPLITS = ("val", "test")
TOP_K = {"top1": 1, "top5": 5}
RAW = "_raw"
STEP = "trainer/global_step"  # the x axis W&B and the history share
LOSSES = ("train/loss", "train/loss_main", "train/loss_aux")
IMAGES_PER_S, EPOCH_TIME = "train/images_per_s", "train/epoch_time_s"  # logged at each epoch's end


def logged_name(split: str, accuracy: str, raw: bool = False) -> str:
    """The name the LightningModule logs, e.g. ``val/top1`` or ``test/top5_raw``."""
    return f"{split}/{accuracy}{RAW if raw else ''}"


def summary_key(logged: str) -> str:
    """The summary's key for a logged metric: ``val/top1`` -> ``val_top1``."""
    return logged.replace("/", "_")


LOGGED = tuple(logged_name(s, a, raw) for s in SPLITS for a in TOP_K for raw in (False, True))
SUMMARY_METRICS = tuple(summary_key(name) for name in LOGGED)
"""Every accuracy a complete run's summary holds."""
VAL_TOP1, TEST_TOP1 = logged_name("val", "top1"), logged_name("test", "top1")
STUDY_METRIC = summary_key(TEST_TOP1)
"""What the study's claims compare: test top-1 accuracy with the EMA weights."""

_SUMMARY_METRIC = re.compile(rf"({'|'.join(SPLITS)})_({'|'.join(TOP_K)})({RAW})?")


def metric_label(metric: str) -> str:
    """Axis label for a summary metric: 'test_top1' -> 'test top-1 accuracy, EMA weights (%)'."""
    match = _SUMMARY_METRIC.fullmatch(summary_key(metric))
    if match is None:
        return f"{metric} (%)"
    return f"{match[1]} top-{TOP_K[match[2]]} accuracy, {'raw' if match[3] else 'EMA'} weights (%)"
