"""last.ckpt by wall time: checked at the history's cadence, saved once the interval has passed, and after the last step."""

from __future__ import annotations

from types import SimpleNamespace

from inception_repro.training import checkpoint
from inception_repro.training.checkpoint import LastCheckpoint


def test_last_checkpoint_is_saved_by_wall_time_on_logged_steps_and_after_the_last_step(tmp_path, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(checkpoint.time, "monotonic", lambda: clock[0])
    saved = []
    trainer = SimpleNamespace(global_step=0, log_every_n_steps=5, estimated_stepping_batches=23, received_sigterm=False,
                              strategy=SimpleNamespace(broadcast=lambda decision: decision),
                              save_checkpoint=lambda path, weights_only: saved.append(trainer.global_step))
    callback = LastCheckpoint(tmp_path / "last.ckpt", {}, every_n_steps=None, every_minutes=1.0)
    callback.on_train_start(trainer, None)
    for step in range(1, 24):
        clock[0] += 7.0  # seconds per step: the minute is up at step 9, read at step 10
        trainer.global_step = step
        callback.on_train_batch_end(trainer, None, None, None, step - 1)
    assert saved == [10, 20, 23]  # 70 s after the start, 70 s after that save (not 35 s, at 15); the last step

    saved.clear()
    callback = LastCheckpoint(tmp_path / "last.ckpt", {}, every_n_steps=4, every_minutes=None)
    trainer.global_step = 0
    callback.on_train_start(trainer, None)
    for step in range(1, 24):
        clock[0] += 1000.0
        trainer.global_step = step
        callback.on_train_batch_end(trainer, None, None, None, step - 1)
    assert saved == [4, 8, 12, 16, 20, 23]
