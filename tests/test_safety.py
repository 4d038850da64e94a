"""Issue 10: no command deletes or writes outside what it was asked to; checkpoints, records and
forced grids keep to their own run; anything unexpected is one line and a logged traceback."""

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest
import pytorch_lightning as pl
import torch
from PIL import Image

from inception_repro import ablate, cli, train
from inception_repro.config import compose_run
from inception_repro.errors import ConfigError
from inception_repro.provenance import atomic_write, project_root
from inception_repro.store import RunFolder, RunRecordError, Summary, run_identity
from inception_repro.training.history import HistoryLogger

from conftest import error_line, kill_once_logged, needs_fashion_mnist, run_folder, short_run_overrides, tiny_run_overrides


def _sentinel(tmp_path):
    """A folder of someone's files that no command may delete."""
    folder = tmp_path / "precious"
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("keep me")
    (folder / "sub" / "data.bin").write_bytes(b"\x00\x01")
    return folder


def _intact(folder) -> bool:
    return (folder / "notes.txt").read_text() == "keep me" and (folder / "sub" / "data.bin").read_bytes() == b"\x00\x01"


# -- paths -------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["run_dir", "results_dir"])
def test_paths_outside_the_results_folder_are_refused_before_anything_happens(key, tmp_path, capsys):
    sentinel = _sentinel(tmp_path)
    assert train.main([f"{key}={sentinel}", "scale=cpu", "--force"]) == 2
    assert f"{key}={sentinel} is outside the project's results folder" in error_line(capsys)
    assert _intact(sentinel) and sorted(p.name for p in sentinel.iterdir()) == ["notes.txt", "sub"]


@pytest.mark.parametrize("argv", [["run_dir=."], ["results_dir=/"], ["run_dir=results/../.."], ["results_dir=results/.."]])
def test_the_project_root_and_the_filesystem_root_are_refused(argv, capsys):
    before = sorted(p.name for p in project_root().iterdir())
    assert train.main(["scale=cpu", "--force", *argv]) == 2
    assert "is outside the project's results folder" in error_line(capsys)
    assert sorted(p.name for p in project_root().iterdir()) == before


def test_a_forced_run_never_deletes_a_folder_that_is_not_its_run(tmp_path, fmnist_cache, capsys):
    """Even with the opt-out, ``--force`` on a folder without a run record leaves it as it is."""
    sentinel = _sentinel(tmp_path)
    argv = ["ablation=aux", "variant=bn", *tiny_run_overrides(tmp_path / "results", fmnist_cache), f"run_dir={sentinel}"]
    assert train.main([*argv, "--force"]) == 2
    assert f"refusing to delete {sentinel}: it is not a run folder (no summary.json)" in error_line(capsys)
    assert _intact(sentinel)


def test_clear_removes_only_a_folder_recording_this_run(tmp_path):
    cfg = compose_run(["scale=cpu", "ablation=aux", "variant=bn", f"results_dir={tmp_path}", "allow_outside_results=true"])
    folder = RunFolder(tmp_path / "run")
    folder.root.mkdir()
    (folder.root / "notes.txt").write_text("keep me")
    with pytest.raises(RunRecordError, match="it is not a run folder"):
        folder.clear(run_identity(cfg))
    folder.write_summary(Summary(status="complete", ablation="aux", variant="bn", seed=1, scale="cpu"))
    with pytest.raises(RunRecordError, match="it records another run"):
        folder.clear(run_identity(cfg))
    folder.summary.write_text('{"status": "compl')
    with pytest.raises(RunRecordError, match="its summary.json is not valid JSON"):
        folder.clear(run_identity(cfg))
    assert (folder.root / "notes.txt").read_text() == "keep me"
    folder.write_summary(Summary(status="failed", ablation="aux", variant="bn", seed=0, scale="cpu"))
    folder.clear(run_identity(cfg))
    assert not folder.root.exists()


@pytest.mark.parametrize("override", ["variant=../x", "seed=3", "run_dir=results/one", "+ablation=table3"])
def test_a_grid_refuses_overrides_of_what_it_sets_per_run(override, tmp_path, capsys):
    """Else the grid silently replaced them (variant, seed) or trained every run into one folder (run_dir)."""
    argv = ["aux", "--seeds", "1", "--", f"results_dir={tmp_path}", "allow_outside_results=true", override]
    assert ablate.main(argv) == 2
    assert f"error: {override}: a grid sets ablation, variant, seed, run_dir for each of its runs" in error_line(capsys)
    assert not any(tmp_path.iterdir())


def test_a_grid_refuses_an_ablation_name_that_is_a_path(tmp_path, capsys):
    assert ablate.main(["../configs/ablations/aux", "--", f"results_dir={tmp_path}", "allow_outside_results=true"]) == 2
    assert "unknown ablation '../configs/ablations/aux'" in error_line(capsys)


def test_every_config_key_is_declared_in_the_schema():
    """A key the schema does not know is refused, so a new key must be declared (schema.py)."""
    for scale in ("cpu", "gpu"):
        compose_run([f"scale={scale}", "optimizer=sgd", "logger=none"])  # every shipped group validates
    compose_run(["scale=paper", "data.root=/x"])
    with pytest.raises(ConfigError, match="undeclared is not a key of the config"):
        compose_run(["scale=cpu", "+undeclared=1"])


# -- records -----------------------------------------------------------------------------------


@needs_fashion_mnist
def test_a_failed_record_of_a_bad_config_never_blocks_the_corrected_one(tmp_path, fmnist_cache):
    argv = ["ablation=aux", "variant=bn", *tiny_run_overrides(tmp_path, fmnist_cache)]
    folder = RunFolder(run_folder(tmp_path))
    folder.root.mkdir(parents=True)
    folder.write_summary(Summary(status="failed", ablation="aux", variant="bn", seed=0, scale="cpu",
                                 config_hash="0123456789abcdef", failure="non-finite loss nan at step 3"))
    assert train.main(argv) == 0
    summary = folder.read_summary()
    assert summary.status == "complete" and summary.config_hash != "0123456789abcdef"


@needs_fashion_mnist
def test_a_checkpoint_of_another_run_is_refused(tmp_path, fmnist_cache, capsys):
    argv = ["ablation=aux", "variant=bn", *tiny_run_overrides(tmp_path, fmnist_cache)]
    assert train.main(argv) == 0
    other = run_folder(tmp_path, seed=1)
    (other / "checkpoints").mkdir(parents=True)
    shutil.copy(run_folder(tmp_path) / "checkpoints" / "last.ckpt", other / "checkpoints" / "last.ckpt")
    capsys.readouterr()
    assert train.main([*argv, "seed=1"]) == 2
    line = error_line(capsys)
    assert "last.ckpt belongs to another run (its config_hash " in line and "its seed 0, this run's 1)" in line
    assert "not resuming from it; delete it to restart this run from scratch" in line
    assert sorted(p.name for p in other.iterdir()) == ["checkpoints"]  # no record written


@needs_fashion_mnist
def test_grad_norm_is_logged_in_the_row_of_its_own_step(tmp_path, fmnist_cache):
    argv = ["ablation=aux", "variant=bn", *tiny_run_overrides(tmp_path, fmnist_cache), "trainer.log_every_n_steps=2"]
    norms = {}
    real_clip = pl.LightningModule.configure_gradient_clipping

    def measure_then_clip(self, optimizer, *args, **kwargs):  # the gradients of this step, before clipping
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        norms[self.trainer.global_step] = float(torch.nn.utils.get_total_norm(grads))
        return real_clip(self, optimizer, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pl.LightningModule, "configure_gradient_clipping", measure_then_clip)
        assert train.main(argv) == 0
    rows = HistoryLogger(run_folder(tmp_path) / "metrics.csv", resuming=True).rows
    logged = {int(float(r["step"])): float(r["train/grad_norm"]) for r in rows if "train/grad_norm" in r}
    assert sorted(logged) == [1, 3]  # steps 0..3, a row every second step
    assert all("train/loss" in r for r in rows if "train/grad_norm" in r)
    assert sorted(norms) == [0, 1, 2, 3]
    for step, value in logged.items():
        assert value == pytest.approx(norms[step], rel=1e-6)


@needs_fashion_mnist
def test_resume_on_another_thread_count_or_cpu_warns_and_records_both(tmp_path, fmnist_cache, monkeypatch):
    argv = ["ablation=aux", "variant=bn", *tiny_run_overrides(tmp_path, fmnist_cache)]
    assert train.main(argv) == 0
    folder = RunFolder(run_folder(tmp_path))
    summary = folder.read_summary()
    assert summary.num_threads == torch.get_num_threads() == 1
    assert summary.cpu and summary.cpu_resumed is None
    # as if killed after its last step on another machine
    folder.write_summary(summary.updated(status="incomplete", num_threads=7, cpu="another CPU"))
    calls = []
    real_fit = pl.Trainer.fit
    monkeypatch.setattr(pl.Trainer, "fit", lambda self, *a, **k: calls.append(k) or real_fit(self, *a, **k))
    with (pytest.warns(UserWarning, match="resuming on 1 CPU threads, the run started on 7.*OMP_NUM_THREADS=7"),
          pytest.warns(UserWarning, match=r"resuming on another CPU \(.+\) than the run started on \(another CPU\)")):
        assert train.main(argv) == 0
    resumed = folder.read_summary()
    assert resumed.num_threads == 7 and resumed.num_threads_resumed == 1 and resumed.status == "complete"
    assert resumed.cpu == "another CPU" and resumed.cpu_resumed == summary.cpu
    assert calls[0]["weights_only"] is True and calls[0]["ckpt_path"] == folder.last_checkpoint


def test_record_files_are_synced_and_readable_by_others(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    previous = os.umask(0o022)
    try:
        folder = RunFolder(tmp_path / "run")
        folder.write_summary(Summary(status="incomplete", ablation="aux", variant="bn", seed=0))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(folder.summary.stat().st_mode) == 0o644
    assert len(synced) == 2  # the file, then its folder's entry
    atomic_write(tmp_path / "x.txt", lambda p: p.write_text("x"))
    assert stat.S_IMODE((tmp_path / "x.txt").stat().st_mode) == 0o666 & ~previous


RUN = '"ablation": "aux", "variant": "bn", "seed": 0, "scale": "cpu"'
METRICS = '"val_top1": 0.9, "val_top5": 0.99, "test_top5": 0.99'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (f'{{{RUN}, {METRICS}, "status": "complete", "test_top1": "0.9x"}}', "test_top1='0.9x', not a fraction"),
        (f'{{{RUN}, "status": "complete"}}', "val_top1=None, not a fraction"),
        (f'{{{RUN}, "status": "done", "test_top1": 0.9}}', "status 'done' is not one of complete, incomplete, failed"),
        ('["complete"]', "not a JSON object"),
        (f'{{{RUN}, "status": "failed", "wall_time_s": "long"}}', "wall_time_s='long' is not a number"),
        (f'{{{RUN}, "status": "failed", "seed": "0"}}', "seed '0' is not an integer"),
        ('{"status": "comp', "is a broken record (summary.json is not valid JSON"),
    ],
)
def test_a_hand_edited_summary_is_a_broken_record(text, problem, tmp_path, capsys):
    run_dir = tmp_path / "runs" / "cpu" / "aux" / "bn" / "seed0"
    run_dir.mkdir(parents=True)
    (run_dir / "summary.json").write_text(text)
    argv = ["aux", "--scale", "cpu", "--seeds", "1", "--", f"results_dir={tmp_path}", "allow_outside_results=true"]
    assert ablate.main(argv) == 2
    line = error_line(capsys)
    assert problem in line and f"delete the run folder {run_dir}" in line
    assert (run_dir / "summary.json").read_text() == text


# -- FORCE, RETRY_FAILED -----------------------------------------------------------------------


def _summaries(tmp_path, ablation="label_smoothing", variants=("eps0", "eps0.1")):
    return {v: json.loads((run_folder(tmp_path, ablation, v) / "summary.json").read_text()) for v in variants}


@pytest.mark.slow
@needs_fashion_mnist
def test_a_forced_grid_killed_midway_resumes_its_own_fresh_runs(tmp_path, fmnist_cache, capsys):
    overrides = short_run_overrides(tmp_path, fmnist_cache)
    # one run at a time (--jobs 1): the kill must fall in the second run, after the first completed
    argv, forced = (["label_smoothing", "--seeds", "1", "--jobs", "1", "--", *overrides],
                    ["label_smoothing", "--seeds", "1", "--jobs", "1", "--force", "--", *overrides])
    assert ablate.main(argv) == 0
    before = _summaries(tmp_path)
    second = run_folder(tmp_path, "label_smoothing", "eps0.1")
    (second / "metrics.csv").unlink()  # so that the kill below waits for the forced grid's own rows
    kill_once_logged("inception_repro.ablate", forced, second / "metrics.csv", 7, tmp_path / "killed.log")
    killed = _summaries(tmp_path)
    assert killed["eps0"]["status"] == "complete" and killed["eps0"]["started_at"] != before["eps0"]["started_at"]
    assert killed["eps0.1"]["status"] == "incomplete" and killed["eps0.1"]["force_token"] == killed["eps0"]["force_token"]
    capsys.readouterr()
    assert ablate.main(forced) == 0
    assert "1 to train, 1 already recorded" in capsys.readouterr().out
    after = _summaries(tmp_path)
    assert after["eps0"] == killed["eps0"]  # its fresh run is kept, not trained a third time
    assert after["eps0.1"]["started_at"] == killed["eps0.1"]["started_at"] and after["eps0.1"]["status"] == "complete"
    assert not (tmp_path / "runs" / "cpu" / "label_smoothing" / ".force-plan.json").exists()
    planned = ablate.plan_grid(["label_smoothing"], None, "1", overrides, force=True)  # that grid is done: FORCE=1 redoes all
    assert [run.action for run in planned] == ["restart", "restart"]


@needs_fashion_mnist
def test_retry_failed_retrains_only_the_failed_runs(tmp_path, fmnist_cache, capsys):
    argv = ["label_smoothing", "--seeds", "1", "--", *tiny_run_overrides(tmp_path, fmnist_cache)]
    assert ablate.main(argv) == 0
    failed = RunFolder(run_folder(tmp_path, "label_smoothing", "eps0"))
    failed.write_summary(failed.read_summary().updated(status="failed", failure="non-finite loss nan at step 2"))
    done = run_folder(tmp_path, "label_smoothing", "eps0.1") / "summary.json"
    kept = done.read_bytes()
    assert ablate.main(argv) == 1  # listed, not retrained
    capsys.readouterr()
    assert ablate.main([*argv[:3], "--retry-failed", *argv[3:]]) == 0
    assert "1 to train, 1 already recorded" in capsys.readouterr().out
    assert failed.read_summary().status == "complete" and done.read_bytes() == kept


# -- data, crashes -----------------------------------------------------------------------------


def _image_folder(root):
    for split in ("train", "val"):
        for label in ("a", "b"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(4):
                Image.new("RGB", (80, 80), (60 * i, 100, 200 if label == "a" else 0)).save(folder / f"{i}.JPEG")
    (root / "train" / "b" / "2.JPEG").write_bytes(b"\xff\xd8\xff\xe0 truncated")


def test_a_corrupt_jpeg_names_the_file_and_the_run_resumes_once_it_is_fixed(tmp_path, capsys):
    data = tmp_path / "images"
    _image_folder(data)
    argv = ["scale=gpu", "data=imagefolder", f"data.root={data}", "data.num_workers=0", "data.batch_size=4",
            "data.eval_batch_size=8", "model.width=0.125", "model.input_size=75", "trainer.accelerator=cpu",
            "trainer.precision=32-true", "trainer.compile=false", "trainer.max_epochs=1", "trainer.log_every_n_steps=1",
            "trainer.checkpoint_every_n_steps=1", "logger=none", f"results_dir={tmp_path / 'results'}",
            "allow_outside_results=true", "ablation=aux", "variant=bn"]
    assert train.main(argv) == 2
    line = error_line(capsys)
    assert f"{data / 'train' / 'b' / '2.JPEG'} is not a readable image" in line and "delete or replace it" in line
    summary = json.loads((run_folder(tmp_path / "results", scale="gpu") / "summary.json").read_text())
    assert summary["status"] == "incomplete"  # not failed: nothing is wrong with the run itself
    (data / "train" / "b" / "2.JPEG").unlink()
    assert train.main(argv) == 0


def test_an_unexpected_error_is_one_line_and_its_traceback_goes_to_the_run_folder(tmp_path, capsys):
    def command(argv):
        with cli.crash_log_in(tmp_path):
            raise RuntimeError("a bug\nover two lines")

    assert cli.run_cli(command, []) == 1
    line = error_line(capsys)
    log = tmp_path / "crash.log"
    assert line == (f"error: unexpected RuntimeError: a bug over two lines; the traceback is in {log}; "
                    "rerun the same command to resume, and report that file if it happens again")
    assert "Traceback (most recent call last)" in log.read_text() and 'raise RuntimeError("a bug' in log.read_text()


def test_without_a_run_folder_the_traceback_goes_to_results_local(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "project_root", lambda: tmp_path)
    assert cli.run_cli(lambda argv: {}["missing"], []) == 1
    assert f"the traceback is in {tmp_path / 'results' / 'local' / 'crash.log'}" in error_line(capsys)
    assert "KeyError" in (tmp_path / "results" / "local" / "crash.log").read_text()


def test_an_interrupt_is_one_line(capsys):
    def interrupted(argv):
        raise KeyboardInterrupt

    assert cli.run_cli(interrupted, []) == 130
    assert error_line(capsys) == "error: interrupted; run the same command again to resume where it stopped"



@pytest.mark.parametrize("linked", ["checkpoints", "metrics.csv", "."], ids=["checkpoints", "history", "run folder"])
def test_a_symlink_in_a_run_folder_is_refused_before_any_write_or_delete(linked, tmp_path, fmnist_cache, capsys):
    """A run's checkpoints/ linked elsewhere made the run delete temporary files there and write its checkpoint there."""
    argv = ["ablation=aux", "variant=bn", *tiny_run_overrides(tmp_path / "results", fmnist_cache)]
    folder = RunFolder(run_folder(tmp_path / "results"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".last.ckpt.x.tmp").write_text("not ours")
    if linked == ".":
        folder.root.parent.mkdir(parents=True)
        folder.root.symlink_to(elsewhere, target_is_directory=True)
    else:
        folder.root.mkdir(parents=True)
        folder.write_summary(Summary(status="incomplete", ablation="aux", variant="bn", seed=0, scale="cpu"))
        (folder.root / linked).symlink_to(elsewhere / linked)
        if linked == "checkpoints":
            (elsewhere / linked).mkdir()
            (elsewhere / linked / ".last.ckpt.x.tmp").write_text("not ours")
    before = sorted((p, p.read_bytes()) for p in elsewhere.rglob("*") if p.is_file())
    assert train.main(argv) == 2
    line = error_line(capsys)
    assert "is a symbolic link" in line and "a run writes and deletes only inside its own folder" in line, line
    assert sorted((p, p.read_bytes()) for p in elsewhere.rglob("*") if p.is_file()) == before


def test_forcing_a_run_into_a_folder_that_is_not_one_is_refused_before_anything_is_written(tmp_path, capsys):
    """``--force run_dir=<the results folder>``: refused by the store's decision, before a lock file appears beside it."""
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "notes.txt").write_text("keep me")
    argv = ["--force", "ablation=aux", "variant=bn", "scale=cpu", f"results_dir={tmp_path / 'results'}",
            f"run_dir={tmp_path / 'results'}", "allow_outside_results=true"]
    assert train.main(argv) == 2
    line = error_line(capsys)
    assert "refusing to delete" in line and "it is not a run folder" in line, line
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["notes.txt", "results"]
