"""Multi-process runs: which process keeps the run record, which strategies are supported, how batch
norm is synchronized, who requeues on SLURM.

Lightning's ``strategy=ddp`` starts ranks > 0 by re-running this process's command with
``LOCAL_RANK`` (and ``NODE_RANK``) set; on SLURM every task is started by ``srun`` with
``SLURM_PROCID``. Every rank trains; only global rank 0 takes the run folder's lock and writes
config.yaml, summary.json, metrics.csv and W&B.
"""

from __future__ import annotations

import os

import torch
from lightning_fabric.plugins.environments import SLURMEnvironment

from inception_repro.errors import ConfigError
from inception_repro.training.sync_batchnorm import GlobalBatchNormSync

RANK_VARIABLES = ("RANK", "SLURM_PROCID", "LOCAL_RANK", "NODE_RANK")
SPAWNING = ("spawn", "fork", "notebook")


def launched_as_rank_zero() -> bool:
    """False in a process that a launcher (Lightning, torchrun, srun) started as a rank > 0."""
    return all(int(os.environ.get(name) or 0) == 0 for name in RANK_VARIABLES)


def check_strategy(strategy: str) -> None:
    """Refuse strategies that train in worker processes: the launching process keeps the record
    and would never see the trained state (history, steps, throughput)."""
    if any(word in str(strategy) for word in SPAWNING):
        raise ConfigError(
            f"trainer.strategy={strategy} trains in spawned workers, which the run record cannot follow; "
            "use trainer.strategy=ddp (ranks > 0 re-run the same command)"
        )


def _on_cpu(accelerator: str) -> bool:
    return accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())


def torch_sync_batchnorm(accelerator: str, sync_batchnorm: bool) -> bool:
    """Lightning's ``sync_batchnorm`` (torch's SyncBatchNorm), which takes GPU tensors only."""
    return bool(sync_batchnorm) and not _on_cpu(accelerator)


def parallel_plugins(accelerator: str, sync_batchnorm: bool) -> list:
    """The cluster's plugins, and ``GlobalBatchNormSync`` for synchronized batch norm between CPU processes."""
    return cluster_plugins() + ([GlobalBatchNormSync()] if sync_batchnorm and _on_cpu(accelerator) else [])


def cluster_plugins() -> list:
    """One owner for SLURM requeue: in a submitit job (``launcher=slurm``) submitit requeues on its
    signal and the job resumes from last.ckpt, so Lightning's own auto-requeue is switched off.
    Under a plain ``sbatch`` Lightning keeps its default (requeue on SIGUSR1)."""
    if os.environ.get("SUBMITIT_EXECUTOR") == "slurm":
        return [SLURMEnvironment(auto_requeue=False)]
    return []
