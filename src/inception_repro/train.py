"""Train one run: ``python -m inception_repro.train [ablation=aux variant=bn seed=0 scale=cpu ...]``.

Writes <results_dir>/runs/<scale>/<ablation>/<variant>/seed<k>/ (config.yaml, metrics.csv,
summary.json, checkpoints/last.ckpt, wandb/; results_dir is results/local unless given) and resumes
from last.ckpt when the run was interrupted. ``--help`` lists the config groups, ``--cfg job``
prints the composed config without training.

This module builds the run and fits it; the run store (``inception_repro.store``) decides whether
to train and records the run.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities.exceptions import SIGTERMException

from inception_repro.cli import crash_log_in, run_cli
from inception_repro.config import compose_run
from inception_repro.distributed import check_strategy, launched_as_rank_zero
from inception_repro.errors import ConfigError, Stopped, UserError
from inception_repro.metrics import EPOCH_TIME, TOP_K, VAL_TOP1, logged_name, summary_key
from inception_repro.models.costs import network_costs
from inception_repro.paths import CONFIG_DIR
from inception_repro.store import RECORDED, RunFolder, Session, Summary, begin, checkpoint_identity, decide, finish, recorded
from inception_repro.training.builders import build_datamodule, build_module, build_network
from inception_repro.training.callbacks import ThroughputMonitor
from inception_repro.training.checkpoint import LastCheckpoint
from inception_repro.training.history import HistoryLogger
from inception_repro.training.module import InceptionLitModule
from inception_repro.training.tracking import make_wandb_logger
from inception_repro.training.trainer import build_trainer, last_checkpoint_callback


@dataclass
class PreparedRun:
    """Everything a run needs, built before its folder is touched."""

    datamodule: pl.LightningDataModule
    module: InceptionLitModule
    trainer: pl.Trainer
    throughput: ThroughputMonitor
    costs: dict[str, Any]  # params, macs, grid_sizes


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
    costs = {**network_costs(network), "grid_sizes": network.cfg.grid_sizes}  # before build_module converts it
    module = build_module(cfg, network)
    throughput = ThroughputMonitor()
    trainer = build_trainer(cfg.trainer, folder.root, folder.last_checkpoint, checkpoint_identity(cfg), throughput)
    return PreparedRun(datamodule, module, trainer, throughput, costs)


def train_run(cfg: DictConfig, force: bool = False) -> Summary | None:
    """Train or resume the run ``cfg`` describes and return its summary; a recorded run (complete, or
    failed by divergence) is returned as it is, without building anything.

    The store decides (``store.decide``) and records (``store.begin``, ``store.finish``) under the run's
    lock (``RunBusyError`` if another process holds it); ``force`` starts afresh. Under
    ``trainer.strategy=ddp`` every rank calls this; ranks > 0 train alongside rank 0 but take no lock,
    write no record and return None.
    """
    check_strategy(cfg.trainer.strategy)
    folder = RunFolder(Path(cfg.run_dir))
    if not launched_as_rank_zero():
        run = prepare_run(cfg, folder)
        _fit(cfg, run, folder.last_checkpoint if folder.last_checkpoint.exists() else None, _loggers(cfg, folder, True))
        return None
    if (done := recorded(folder, cfg, force)) is not None:  # before any work: a grid passes such runs at once
        return done
    run = prepare_run(cfg, folder)
    with folder.locked(), crash_log_in(folder.root):
        action = decide(folder, cfg, force)  # again: another process may have finished it meanwhile
        if action in RECORDED:
            return folder.read_summary()
        return _record_fit(cfg, run, begin(folder, cfg, action, run.costs))


def _record_fit(cfg: DictConfig, run: PreparedRun, session: Session) -> Summary:
    """Fit the run ``session`` began and record how it ended: complete; failed if it diverged (the same
    config would again); else incomplete, so the same command resumes it from its last checkpoint
    (a full disk, a crash, a signal: nothing wrong with the run itself)."""
    trainer, clock = run.trainer, last_checkpoint_callback(run.trainer)
    clock.start_clock(session.trained_s)
    loggers = _loggers(cfg, session.folder, resuming=session.resume_from is not None)
    status, fields = "incomplete", {}
    try:
        fields = _fit(cfg, run, session.resume_from, loggers)
        status = "complete"
    except FloatingPointError as error:
        status, fields = "failed", {"failure": str(error)}
    except SIGTERMException:
        fields = {"failure": "stopped by SIGTERM"}
        raise Stopped(f"stopped by SIGTERM at step {trainer.global_step}; {_resumes_from(session.folder, clock)}", 15) from None
    except SystemExit:
        if not trainer.interrupted:
            raise
        fields = {"failure": "interrupted (Ctrl-C)"}
        raise KeyboardInterrupt from None  # Lightning's graceful shutdown exits 1; the CLI says what to do
    except UserError:  # e.g. a corrupt data file: the run itself is fine, it resumes once that is fixed
        raise
    except Exception as error:
        fields = {"failure": f"{error.__class__.__name__}: {error}"}
        raise
    finally:
        summary = finish(
            session, status, **fields, device=_device_name(trainer), world_size=trainer.world_size,
            epochs=trainer.current_epoch, global_step=trainer.global_step, wall_time_s=round(clock.wall_clock(), 1),
            train_images_per_s=run.throughput.images_per_s,
        )
        _finish_wandb(loggers, status)
    return summary


def _resumes_from(folder: RunFolder, checkpoint: LastCheckpoint) -> str:
    """Where the same command resumes: the step of the last checkpoint saved (or restored), not read
    back from the file (435 MB at full width, within SLURM's grace period)."""
    if not folder.last_checkpoint.exists():
        return "it had no checkpoint yet: the same command starts it again"
    return f"run the same command to resume it from its checkpoint at step {checkpoint.saved_step}"


def _fit(cfg: DictConfig, run: PreparedRun, resume_from: Path | None, loggers: list) -> dict[str, float]:
    """Train (or resume from ``resume_from``), then evaluate; the final validation and test metrics."""
    trainer = run.trainer
    trainer.loggers = loggers
    trainer.fit(run.module, datamodule=run.datamodule, ckpt_path=resume_from, weights_only=True)
    if VAL_TOP1 not in trainer.callback_metrics:  # resumed from the final checkpoint
        _final_validation(trainer, run)
        _count_the_last_step(trainer)
    validation = _metrics(trainer.callback_metrics, "val")
    test = _metrics(trainer.test(run.module, datamodule=run.datamodule, verbose=False)[0], "test")
    return {"metrics": {**validation, **test}}


def _metrics(results: dict[str, Any], split: str) -> dict[str, float]:
    names = [logged_name(split, accuracy, raw) for accuracy in TOP_K for raw in (False, True)]
    return {summary_key(name): float(results[name]) for name in names if name in results}


def _device_name(trainer: pl.Trainer) -> str:
    if trainer.strategy.root_device.type == "cuda":
        return torch.cuda.get_device_name(trainer.strategy.root_device)
    return str(trainer.strategy.root_device)


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


def _final_validation(trainer: pl.Trainer, run: PreparedRun) -> None:
    """The final validation metrics of a run resumed after its last step. The killed process logged
    their row, then the epoch's timing row, unless it was killed before: a missing row is logged where
    the uninterrupted run logs it (the restored count of finished batches, the last epoch), the timing
    of the killed epoch as unknown (NaN)."""
    step = trainer.fit_loop.epoch_loop._batches_that_stepped
    history = next(logger for logger in trainer.loggers if isinstance(logger, HistoryLogger))

    def logged(key: str) -> bool:
        return any(row.get(key) not in (None, "") and int(float(row["step"])) == step for row in history.rows)

    already = [logged(VAL_TOP1), logged(EPOCH_TIME)]
    loggers, trainer.loggers = trainer.loggers, []
    try:
        trainer.validate(run.module, datamodule=run.datamodule, verbose=False)
    finally:
        trainer.loggers = loggers
    rows = [{k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}, {EPOCH_TIME: math.nan}]
    for row, done in zip(rows, already):
        for logger in [] if done else loggers:
            logger.log_metrics({**row, "epoch": float(trainer.max_epochs - 1)}, step=step)


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
        if summary is None:  # a DDP rank > 0: rank 0 records and reports the run
            return 0
        shown = summary.to_dict()
        print({k: shown[k] for k in ("status", "test_top1", "test_top1_raw", "wall_time_s", "failure") if k in shown})
        return 0 if summary.status == "complete" else 1

    return run_cli(run, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
