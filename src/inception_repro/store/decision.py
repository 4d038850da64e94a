"""What to do with a run, decided in one place for a single run and for a grid.

``decide`` reads the run's record and says *skip* (complete), *failed* (it diverged: the same config
would diverge again), *resume* (from its last.ckpt), *train* (from scratch), *retry* (a failed run
retried from its last good checkpoint) or *restart* (delete its record first: forced, a failure
retried without a checkpoint, or a replaceable record of a changed config). A grid adds *share*
(``plan.share_identical``): another run has its config.
"""

from __future__ import annotations

from omegaconf import DictConfig

from inception_repro.store.folder import RunFolder
from inception_repro.store.identity import run_identity

SKIP, FAILED, RESUME, TRAIN, RETRY, RESTART, SHARE = "skip", "failed", "resume", "train", "retry", "restart", "share"
RECORDED = (SKIP, FAILED)
"""Actions that leave the record as it is."""


def decide(folder: RunFolder, cfg: DictConfig, force: bool = False, force_token: str | None = None,
           retry_failed: bool = False) -> str:
    """The action for the run ``cfg`` in ``folder``. ``force`` restarts it unless its record carries
    ``force_token`` (this forced grid restarted it before it was killed: it resumes). A complete or
    resumable run recorded under another config raises ``ConfigChangedError``; a broken record raises."""
    folder.check_usable()
    summary = folder.read_summary()
    resumable = folder.last_checkpoint.exists()
    if force and not (summary and force_token and summary.force_token == force_token):
        if folder.root.exists():  # refused now, before a lock or anything else is written
            folder.check_clearable(run_identity(cfg))
        return RESTART
    if summary is None:
        return TRAIN
    folder.check_config(summary, cfg)
    if folder.config_change(summary, cfg):
        return RESTART
    if summary.status == "complete":
        return SKIP
    if summary.status == "failed" and not retry_failed:
        return FAILED
    if summary.status == "failed":
        return RETRY if resumable else RESTART
    return RESUME if resumable else TRAIN
