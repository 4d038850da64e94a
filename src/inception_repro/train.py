"""Train one run: ``python -m inception_repro.train [ablation=aux variant=bn seed=0 scale=cpu ...]``.

Writes results/runs/<ablation>/<variant>/seed<k>/ (config.yaml, metrics.csv, summary.json,
checkpoints/last.ckpt, wandb/) and resumes from last.ckpt when the run was interrupted.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from inception_repro.cli import run_cli
from inception_repro.config import compose_run
from inception_repro.data import FashionMNISTDataModule, ImageFolderDataModule
from inception_repro.errors import ConfigError
from inception_repro.models import InceptionConfig, InceptionV3
from inception_repro.models.costs import count_macs, count_params
from inception_repro.provenance import git_commit
from inception_repro.runs import RunFolder, acquire, config_hash
from inception_repro.training.callbacks import ExactResume, ThroughputMonitor
from inception_repro.training.history import HistoryLogger
from inception_repro.training.module import InceptionLitModule
from inception_repro.training.tracking import make_wandb_logger

DATAMODULES = {"fashion_mnist": FashionMNISTDataModule, "imagefolder": ImageFolderDataModule}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def build_datamodule(data: dict[str, Any], input_size: int) -> pl.LightningDataModule:
    data = dict(data)
    name = data.pop("name")
    if name not in DATAMODULES:
        raise ConfigError(f"unknown data {name!r}; valid: {', '.join(DATAMODULES)}")
    return DATAMODULES[name](input_size=input_size, **data)


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


def build_trainer(cfg: DictConfig, folder: RunFolder, loggers: list, throughput: ThroughputMonitor) -> pl.Trainer:
    t = cfg.trainer
    checkpoint = pl.callbacks.ModelCheckpoint(
        dirpath=folder.checkpoints, save_last=True, save_top_k=0, every_n_train_steps=t.checkpoint_every_n_steps
    )
    progress = pl.callbacks.RichProgressBar() if sys.stdout.isatty() else pl.callbacks.TQDMProgressBar(refresh_rate=100)
    optional = {k: t[k] for k in ("limit_train_batches", "limit_val_batches", "limit_test_batches") if t[k] is not None}
    return pl.Trainer(
        default_root_dir=folder.root,
        max_epochs=t.max_epochs,
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=t.strategy,
        sync_batchnorm=t.sync_batchnorm,
        precision=t.precision,
        gradient_clip_val=t.gradient_clip_val,
        gradient_clip_algorithm="norm",
        log_every_n_steps=t.log_every_n_steps,
        val_check_interval=t.val_check_interval,
        deterministic=t.deterministic,
        num_sanity_val_steps=0,
        enable_model_summary=False,
        logger=loggers,
        callbacks=[checkpoint, throughput, ExactResume(), progress],
        **optional,
    )


def train_run(cfg: DictConfig) -> dict[str, Any]:
    """Train (or resume) the run ``cfg`` describes; returns its summary. Holds the run folder's lock."""
    folder = RunFolder(Path(cfg.run_dir))
    lock = folder.lock()
    acquire(lock, folder)
    try:
        return _train_locked(cfg, folder)
    finally:
        lock.release()


def _train_locked(cfg: DictConfig, folder: RunFolder) -> dict[str, Any]:
    previous = folder.read_summary() or {}
    start = time.perf_counter()
    summary: dict[str, Any] = {
        "status": "incomplete",
        "ablation": cfg.ablation,
        "variant": str(cfg.variant),
        "seed": int(cfg.seed),
        "scale": cfg.scale.name,
        "config_hash": config_hash(cfg),
        "git_commit": git_commit(),
        "torch_version": torch.__version__,
        "started_at": previous.get("started_at") if previous.get("status") == "incomplete" else _now(),
    }
    prior_wall = float(previous.get("wall_time_s", 0.0)) if previous.get("status") == "incomplete" else 0.0
    datamodule = build_datamodule(OmegaConf.to_container(cfg.data), int(cfg.model.input_size))
    datamodule.prepare_data()  # a missing or corrupt dataset fails here, before any record is written
    folder.write_config(cfg)
    folder.write_summary(summary)

    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    model_cfg = {**OmegaConf.to_container(cfg.model), "num_classes": datamodule.num_classes, "in_chans": cfg.data.in_chans}
    network = InceptionV3(InceptionConfig.from_dict(model_cfg))
    summary.update(params=count_params(network), macs=count_macs(network))
    module = InceptionLitModule(
        model=model_cfg,
        optimizer=OmegaConf.to_container(cfg.optimizer),
        batch_size=int(cfg.data.batch_size),
        label_smoothing=float(cfg.loss.label_smoothing),
        aux_weight=float(cfg.loss.aux_weight),
        ema_decay=cfg.ema.decay,
        channels_last=bool(cfg.trainer.channels_last),
    )
    if cfg.trainer.compile:
        module.model.compile()
    loggers: list = [HistoryLogger(folder.metrics)]
    if cfg.logger.name == "wandb":
        loggers.append(
            make_wandb_logger(
                folder.root, cfg.logger.project, cfg.logger.entity, cfg.logger.mode, cfg.ablation, str(cfg.variant),
                int(cfg.seed), cfg.scale.name, OmegaConf.to_container(cfg, resolve=True),
            )
        )
    throughput = ThroughputMonitor()
    trainer = build_trainer(cfg, folder, loggers, throughput)
    summary["device"] = _device_name(trainer)
    resume_from = folder.last_checkpoint if folder.last_checkpoint.exists() else None
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from)
        validation = _metrics(trainer.callback_metrics, "val")
        test = _metrics(trainer.test(module, datamodule=datamodule, verbose=False)[0], "test")
        summary.update(status="complete", **validation, **test)
    except FloatingPointError as error:
        summary.update(status="failed", failure=str(error))
    except Exception as error:
        summary.update(status="failed", failure=f"{error.__class__.__name__}: {error}")
        raise
    finally:
        summary.update(
            epochs=trainer.current_epoch,
            global_step=trainer.global_step,
            wall_time_s=round(prior_wall + time.perf_counter() - start, 1),
            train_images_per_s=throughput.images_per_s,
            finished_at=_now(),
        )
        if summary["status"] == "incomplete":  # interrupted (KeyboardInterrupt, SIGTERM): resumable
            summary.pop("finished_at")
        folder.write_summary(summary)
        _finish_wandb(loggers, summary["status"])
    return summary


def _finish_wandb(loggers: list, status: str) -> None:
    """Close the W&B run so the next run of a grid starts its own; a failed run exits non-zero there."""
    import wandb

    if any(not isinstance(logger, HistoryLogger) for logger in loggers) and wandb.run is not None:
        wandb.finish(exit_code=0 if status == "complete" else 1)


def main(argv: list[str] | None = None) -> int:
    def run(args: list[str]) -> int:
        summary = train_run(compose_run(args))
        print({k: summary.get(k) for k in ("status", "test_top1", "test_top1_raw", "wall_time_s", "failure") if k in summary})
        return 0 if summary["status"] == "complete" else 1

    return run_cli(run, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
