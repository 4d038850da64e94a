"""Train one run: ``python -m inception_repro.train [ablation=aux variant=bn seed=0 scale=cpu ...]``.

Writes <results_dir>/runs/<scale>/<ablation>/<variant>/seed<k>/ (config.yaml, metrics.csv,
summary.json, checkpoints/last.ckpt, wandb/; results_dir is results/local unless given) and resumes
from last.ckpt when the run was interrupted. ``--help`` lists the config groups, ``--cfg job``
prints the composed config without training.
"""

from __future__ import annotations

import platform
import sys
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from lightning_fabric.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig, OmegaConf

from inception_repro.cli import crash_log_in, run_cli
from inception_repro.config import compose_run
from inception_repro.distributed import check_strategy, launched_as_rank_zero, parallel_plugins, torch_sync_batchnorm
from inception_repro.errors import ConfigError, UserError
from inception_repro.models.costs import network_costs
from inception_repro.paths import CONFIG_DIR
from inception_repro.provenance import git_commit, git_dirty, host_cpu
from inception_repro.runs import RunFolder, checkpoint_identity, config_hash, run_identity
from inception_repro.training.builders import build_datamodule, build_module, build_network
from inception_repro.training.callbacks import ExactResume, GradNorm, ThroughputMonitor
from inception_repro.training.checkpoint import AtomicCheckpointIO, LastCheckpoint, check_checkpoint
from inception_repro.training.history import HistoryLogger
from inception_repro.training.module import InceptionLitModule
from inception_repro.training.tracking import make_wandb_logger

CODE_PATHS = ("src", "configs", "pyproject.toml")  # what makes a run; results/ and notebooks/ do not


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _device_name(trainer: pl.Trainer) -> str:
    if trainer.strategy.root_device.type == "cuda":
        return torch.cuda.get_device_name(trainer.strategy.root_device)
    return str(trainer.strategy.root_device)


def _metrics(results: dict[str, Any], split: str) -> dict[str, float]:
    return {
        f"{split}_{k}{suffix}": float(results[f"{split}/{k}{suffix}"])
        for k in ("top1", "top5")
        for suffix in ("", "_raw")
        if f"{split}/{k}{suffix}" in results
    }


def build_trainer(cfg: DictConfig, folder: RunFolder, throughput: ThroughputMonitor) -> pl.Trainer:
    """The run's Trainer, without loggers (``_fit`` attaches them): it touches no file, so a bad
    ``trainer.*`` value fails before the run folder is created."""
    t = cfg.trainer
    checkpoint = LastCheckpoint(
        folder.last_checkpoint, checkpoint_identity(cfg), t.checkpoint_every_n_steps, t.checkpoint_every_minutes
    )
    progress = pl.callbacks.RichProgressBar() if sys.stdout.isatty() else pl.callbacks.TQDMProgressBar(refresh_rate=100)
    optional = {k: t[k] for k in ("limit_train_batches", "limit_val_batches", "limit_test_batches") if t[k] is not None}
    try:
        return _trainer(t, folder, [checkpoint, throughput, ExactResume(), GradNorm(), progress], optional)
    except (MisconfigurationException, ValueError) as error:
        raise ConfigError(f"bad trainer config: {' '.join(str(error).split())}") from None


def _trainer(t: DictConfig, folder: RunFolder, callbacks: list, optional: dict[str, Any]) -> pl.Trainer:
    return pl.Trainer(
        default_root_dir=folder.root,
        max_epochs=t.max_epochs,
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=t.strategy,
        sync_batchnorm=torch_sync_batchnorm(t.accelerator, t.sync_batchnorm),
        precision=t.precision,
        gradient_clip_val=t.gradient_clip_val,
        gradient_clip_algorithm="norm",
        log_every_n_steps=t.log_every_n_steps,
        val_check_interval=t.val_check_interval,
        deterministic=t.deterministic,
        benchmark=not t.deterministic,  # cuDNN picks the fastest convolution algorithms (GPU only)
        num_sanity_val_steps=0,
        enable_model_summary=False,
        logger=False,
        callbacks=callbacks,
        plugins=[*parallel_plugins(t.accelerator, t.sync_batchnorm), AtomicCheckpointIO()],
        **optional,
    )


@dataclass
class PreparedRun:
    """Everything a run needs, built before its folder is touched."""

    datamodule: pl.LightningDataModule
    module: InceptionLitModule
    trainer: pl.Trainer
    throughput: ThroughputMonitor
    costs: dict[str, int]


def prepare_run(cfg: DictConfig, folder: RunFolder) -> PreparedRun:
    """Data, network and trainer; a missing or corrupt dataset or a bad value fails here."""
    if cfg.trainer.threads:
        torch.set_num_threads(int(cfg.trainer.threads))
    datamodule = build_datamodule(cfg)
    accelerator = str(cfg.trainer.accelerator)
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():  # before any data is read
        raise ConfigError(f"trainer.accelerator={accelerator} (scale {cfg.scale.name}) needs a GPU and none is visible "
                          "here: run it where one is, or on a CPU scale (--scale cpu)")
    datamodule.prepare_data()
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    network = build_network(cfg, datamodule.num_classes)
    costs = network_costs(network)  # before build_module converts it (float64, channels_last, compiled)
    module = build_module(cfg, network)
    throughput = ThroughputMonitor()
    return PreparedRun(datamodule, module, build_trainer(cfg, folder, throughput), throughput, costs)


def train_run(cfg: DictConfig, force: bool = False) -> dict[str, Any]:
    """Train or resume the run ``cfg`` describes and return its summary; a complete run is returned as recorded.

    Holds the run folder's lock (``RunBusyError`` if another process does). A complete or resumable
    run recorded under another config is refused (``ConfigChangedError``); a failed or unstarted one
    is replaced; ``force`` deletes the record and starts afresh. Under ``trainer.strategy=ddp`` every
    rank calls this; ranks > 0 train alongside rank 0 but take no lock and write no record.
    """
    check_strategy(cfg.trainer.strategy)
    folder = RunFolder(Path(cfg.run_dir))
    if not launched_as_rank_zero():
        return _fit(cfg, folder, prepare_run(cfg, folder), previous={}, record=False)
    if (done := _recorded(folder, cfg, force)) is not None:  # before any work: a grid passes such runs at once
        return done
    run = prepare_run(cfg, folder)
    with folder.locked(), crash_log_in(folder.root):
        if not force and (done := _complete(folder, cfg)) is not None:  # another process finished it meanwhile
            return done
        previous = folder.read_summary()
        if force or (previous and folder.config_change(previous, cfg)):  # a changed one is replaceable here
            folder.clear(run_identity(cfg))
        folder.remove_partial_writes()
        checkpoint_wall = None
        if folder.last_checkpoint.exists():
            checkpoint_wall = check_checkpoint(folder.last_checkpoint, checkpoint_identity(cfg))
        return _fit(cfg, folder, run, folder.read_summary() or {}, checkpoint_wall=checkpoint_wall)


def restart_run(cfg: DictConfig, force_token: str) -> None:
    """Delete the run's record (as ``force`` does) and mark its new one with ``force_token``, so a
    forced grid that is killed and started again resumes the runs it restarted (ablate --force)."""
    folder = RunFolder(Path(cfg.run_dir))
    with folder.locked():
        folder.clear(run_identity(cfg))
        folder.write_summary(
            {"status": "incomplete", **run_identity(cfg), "config_hash": config_hash(cfg), "force_token": force_token,
             "started_at": _now()}
        )


def _recorded(folder: RunFolder, cfg: DictConfig, force: bool) -> dict[str, Any] | None:
    """The summary of a complete run (unless ``force``); raises ``RunBusyError`` if another process
    trains the run, ``ConfigChangedError`` if it was recorded under another config."""
    if folder.lock_path.exists():
        with folder.locked():
            pass
    return None if force else _complete(folder, cfg)


def _complete(folder: RunFolder, cfg: DictConfig) -> dict[str, Any] | None:
    """The run's summary if it is complete; a run recorded under another config raises."""
    summary = folder.read_summary()
    if summary:
        folder.check_config(summary, cfg)
    return summary if summary and summary["status"] == "complete" else None


def _loggers(cfg: DictConfig, folder: RunFolder, resuming: bool) -> list:
    loggers: list = [HistoryLogger(folder.metrics, resuming)]
    if cfg.logger.name == "wandb":
        loggers.append(
            make_wandb_logger(
                folder.root, cfg.logger.project, cfg.logger.entity, cfg.logger.mode, cfg.ablation, str(cfg.variant),
                int(cfg.seed), cfg.scale.name, OmegaConf.to_container(cfg, resolve=True), cfg.logger.init_timeout,
            )
        )
    return loggers


def _fit(cfg: DictConfig, folder: RunFolder, run: PreparedRun, previous: dict[str, Any], record: bool = True,
         checkpoint_wall: float | None = None) -> dict[str, Any]:
    """Train (or resume from last.ckpt, whose recorded wall time is ``checkpoint_wall``) and write the summary."""
    clock = next(c for c in run.trainer.callbacks if isinstance(c, LastCheckpoint))
    resumed = previous.get("status") == "incomplete"
    summary: dict[str, Any] = {
        "status": "incomplete",
        "ablation": cfg.ablation,
        "variant": str(cfg.variant),
        "seed": int(cfg.seed),
        "scale": cfg.scale.name,
        "config_hash": config_hash(cfg),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(*CODE_PATHS),
        "torch_version": torch.__version__,
        "platform": platform.platform(),
        **_host_cpus(previous if resumed else {}),
        "started_at": previous.get("started_at") if resumed else _now(),
        **_thread_counts(previous if resumed else {}),
        **({"force_token": previous["force_token"]} if resumed and "force_token" in previous else {}),
        **run.costs,
        "grid_sizes": run.module.model.cfg.grid_sizes,
    }
    if record:
        folder.write_summary(summary)
        folder.write_config(cfg)
    resume_from = folder.last_checkpoint if folder.last_checkpoint.exists() else None
    if resume_from is None:
        before = 0.0
    elif checkpoint_wall is not None:  # the time the checkpoint's kept steps took
        before = checkpoint_wall
    else:  # a checkpoint older than that record: the interrupted session's summary
        before = float(previous.get("wall_time_s", 0.0)) if resumed else 0.0
    clock.start_clock(before)
    trainer = run.trainer
    trainer.loggers = loggers = _loggers(cfg, folder, resuming=resume_from is not None)
    summary.update(device=_device_name(trainer), world_size=trainer.world_size)
    try:
        trainer.fit(run.module, datamodule=run.datamodule, ckpt_path=resume_from, weights_only=True)
        if "val/top1" not in trainer.callback_metrics:  # resumed from the final checkpoint: nothing left to fit
            _validate_unlogged(trainer, run)
            _count_the_last_step(trainer)
        validation = _metrics(trainer.callback_metrics, "val")
        test = _metrics(trainer.test(run.module, datamodule=run.datamodule, verbose=False)[0], "test")
        summary.update(status="complete", **validation, **test)
    except FloatingPointError as error:
        summary.update(status="failed", failure=str(error))
    except UserError:  # e.g. a corrupt data file: the run itself is fine, it resumes once that is fixed
        raise
    except Exception as error:
        summary.update(status="failed", failure=f"{error.__class__.__name__}: {error}")
        raise
    finally:
        summary.update(
            epochs=trainer.current_epoch,
            global_step=trainer.global_step,
            wall_time_s=round(clock.wall_clock(), 1),
            train_images_per_s=run.throughput.images_per_s,
            finished_at=_now(),
        )
        if summary["status"] == "incomplete":  # interrupted (KeyboardInterrupt, SIGTERM): resumable
            summary.pop("finished_at")
        if record:
            folder.write_summary(summary)
        _finish_wandb(loggers, summary["status"])
    return summary


def _thread_counts(previous: dict[str, Any]) -> dict[str, int]:
    """``num_threads`` (torch's CPU threads) of the run's first session, ``num_threads_resumed`` if a
    resume uses another count: CPU kernels then split their sums differently, so the resumed run is
    not bitwise the uninterrupted one (warned)."""
    now = torch.get_num_threads()
    first = int(previous.get("num_threads", now))
    if first == now:
        return {"num_threads": now}
    warnings.warn(
        f"resuming on {now} CPU threads, the run started on {first}: its results will not be bitwise those of an "
        f"uninterrupted run; set OMP_NUM_THREADS={first} to resume it exactly", stacklevel=2,
    )
    return {"num_threads": first, "num_threads_resumed": now}


def _host_cpus(previous: dict[str, Any]) -> dict[str, str]:
    """``cpu`` (the host CPU) of the run's first session, ``cpu_resumed`` if a resume runs on another kind of
    CPU: its kernels may round differently, so the resumed run is not bitwise the uninterrupted one (warned)."""
    now = host_cpu()
    first = previous.get("cpu", now)
    if first == now:
        return {"cpu": now}
    warnings.warn(
        f"resuming on another CPU ({now}) than the run started on ({first}): its results will not be bitwise "
        "those of an uninterrupted run", stacklevel=2,
    )
    return {"cpu": first, "cpu_resumed": now}


def _validate_unlogged(trainer: pl.Trainer, run: PreparedRun) -> None:
    """The final validation metrics of a run resumed after its last step. Its validation row is in
    the history already (unless the killed process was validating), so it is not logged again."""
    loggers, trainer.loggers = trainer.loggers, []
    try:
        trainer.validate(run.module, datamodule=run.datamodule, verbose=False)
    finally:
        trainer.loggers = loggers


def _count_the_last_step(trainer: pl.Trainer) -> None:
    """Log the test row of a run resumed after its last step at that step, as the uninterrupted run does.

    Lightning's logging step counts finished batches; a checkpoint written as the last batch ends holds
    it one short, and only a training loop that still has batches to run adds that one back."""
    trainer.fit_loop.epoch_loop._batches_that_stepped = trainer.global_step


def _finish_wandb(loggers: list, status: str) -> None:
    """Close the W&B run so the next run of a grid starts its own; a failed run exits non-zero there."""
    if all(isinstance(logger, HistoryLogger) for logger in loggers):
        return
    import wandb

    if wandb.run is not None:
        wandb.finish(exit_code=0 if status == "complete" else 1)


def usage() -> str:
    """``--help``: how to call, the config groups and their options (configs/), the override syntax."""
    groups = sorted(p for p in CONFIG_DIR.iterdir() if p.is_dir() and p.name not in ("hydra", "ablations"))
    lines = [
        __doc__.strip(), "",
        "usage: python -m inception_repro.train [--force] [--cfg job] [--help] [key=value ...]", "",
        "== Configuration groups == (choose one with group=option)",
        *(f"{g.name}: {', '.join(sorted(f.stem for f in g.glob('*.yaml')))}" for g in groups),
        f"ablation: adhoc, {', '.join(sorted(f.stem for f in (CONFIG_DIR / 'ablations').glob('*.yaml')))} (with variant=<name>)",
        "", "== Config == (override any value with key=value, e.g. seed=1 model.width=0.5 trainer.max_epochs=1)",
        "Print the composed config with --cfg job.",
    ]
    return "\n".join(lines)


def _print_config(args: list[str]) -> int:
    """``--cfg job``: the run's config as train_run would use it (resolved), without training."""
    at = args.index("--cfg")
    what = args[at + 1] if at + 1 < len(args) else None
    if what != "job":
        raise ConfigError(f"--cfg takes job (prints the run's composed config), not {what!r}")
    print(OmegaConf.to_yaml(compose_run(args[:at] + args[at + 2 :]), resolve=True), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``--force`` (anywhere among the overrides) deletes the run's record and trains it afresh."""

    def run(args: list[str]) -> int:
        if "--help" in args or "-h" in args:
            print(usage())
            return 0
        if "--cfg" in args:
            return _print_config(args)
        summary = train_run(compose_run([a for a in args if a != "--force"]), force="--force" in args)
        print({k: summary.get(k) for k in ("status", "test_top1", "test_top1_raw", "wall_time_s", "failure") if k in summary})
        return 0 if summary["status"] == "complete" else 1

    return run_cli(run, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
