"""DDP on CPU (gloo): two processes train two epochs as one does on the same global batch, resume, and only rank 0 records.

The runs go through ``python -m inception_repro.train ... trainer.strategy=ddp`` in a subprocess,
the real multi-process path: Lightning re-runs that command for rank 1, which trains without
taking the run folder's lock. (``ddp_spawn`` is refused for runs: see inception_repro.distributed.)
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from inception_repro.config import compose_run
from inception_repro.distributed import check_strategy, cluster_plugins, launched_as_rank_zero
from inception_repro.errors import ConfigError
from inception_repro.train import train_run
from inception_repro.training.sync_batchnorm import GlobalBatchNorm2d

from conftest import kill_once_logged, needs_fashion_mnist, tiny_run_overrides

# Why float64 and a tenth of the recipe's LR: at initialization this network on Fashion-MNIST is
# chaotic. At the recipe's LR a difference grows about 30x a step: in float64 the 2-process grad
# norms leave the 1-process ones at 1e-12 (step 1), 8e-7 (step 4), 0.46 (step 7), and a 1-process
# run that only changes the memory layout diverges alike; in float32 nothing past the first step
# matches. In float64 at LR 0.0045 the two runs' weights, batch-norm statistics and EMA after two
# epochs (the 2-process one SIGKILLed mid-epoch and resumed) are 1.6e-8 apart relative to the
# update made after the resume. A summed instead of averaged gradient, batch norm that is not
# synchronized (each replica normalizing its own 8 images: ~25% off at step 0), another train
# order, a resume that rounds the weights to float32 (it did, before train.prepare_run converted
# the module first) or a wrong LR rule are orders of magnitude above the tolerance.
RTOL = 1e-6
LR = 0.0045


def _train(overrides: list[str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "inception_repro.train", *overrides], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def _history(run_dir) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return [row for row in csv.DictReader(f) if row.get("train/loss")]


def _weights(run_dir) -> torch.Tensor:
    """Every floating tensor of the last checkpoint (weights, batch-norm statistics, EMA), flattened."""
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    return torch.cat([t.flatten().double() for _, t in sorted(state.items()) if t.is_floating_point()])


def _column(history: list[dict[str, str]], key: str) -> list[float]:
    return [float(r[key]) for r in history]


@pytest.mark.slow
@needs_fashion_mnist
def test_two_ddp_processes_train_two_epochs_as_one_on_the_same_global_batch_and_resume(tmp_path, fmnist_cache):
    common = [
        *tiny_run_overrides(tmp_path, fmnist_cache), "model.width=0.125", "trainer.accelerator=cpu", "trainer.sync_batchnorm=true",
        "trainer.precision=64-true", f"optimizer.lr={LR}", "data.hflip=false", "model.dropout=0",
        "trainer.max_epochs=2", "trainer.checkpoint_every_n_steps=2",
    ]
    # One process, batch 16; two processes, 8 each: a global batch of 16 either way. The seeded
    # train order is a DistributedSampler's, so step k uses the same 16 images in both.
    _train([*common, "variant=one", "trainer.devices=1", "data.batch_size=16"])
    two_processes = [*common, "variant=two", "trainer.strategy=ddp", "trainer.devices=2", "data.batch_size=8"]
    one, two = (tmp_path / "runs" / "cpu" / "adhoc" / v / "seed0" for v in ("one", "two"))
    # Preempted in its second epoch (steps 0-3 are the first): both ranks SIGKILLed, then the same command.
    kill_once_logged("inception_repro.train", two_processes, two / "metrics.csv", 5, tmp_path / "killed.log")
    assert json.loads((two / "summary.json").read_text())["status"] == "incomplete"
    at_kill = torch.load(two / "checkpoints" / "last.ckpt", weights_only=False)["global_step"]
    assert 4 <= at_kill < 8
    left_by_kill = _weights(two)
    output = _train(two_processes)

    assert "Restored all states from the checkpoint" in output  # Lightning, resuming from last.ckpt
    summaries = [json.loads((d / "summary.json").read_text()) for d in (one, two)]
    assert [s["status"] for s in summaries] == ["complete", "complete"]
    assert [s["world_size"] for s in summaries] == [1, 2]
    assert [(s["epochs"], s["global_step"]) for s in summaries] == [(2, 8), (2, 8)]

    history_one, history_two = _history(one), _history(two)
    assert [r["step"] for r in history_two] == [r["step"] for r in history_one]  # rank 0 alone logs, once a step
    assert float(history_two[0]["lr"]) == pytest.approx(LR * 16 / 64)  # lr x global batch / reference batch
    for key in ("lr", "train/loss", "train/grad_norm"):  # the loss is averaged over the replicas
        assert _column(history_two, key) == pytest.approx(_column(history_one, key), rel=RTOL)

    weights_one, weights_two = _weights(one), _weights(two)
    update_after_resume = (weights_two - left_by_kill).norm()
    assert update_after_resume > 0
    assert (weights_two - weights_one).norm() <= RTOL * update_after_resume


def _global_batchnorm_worker(rank: int, port: int, x: torch.Tensor, w: torch.Tensor, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    bn = nn.BatchNorm2d(3)
    bn.__class__ = GlobalBatchNorm2d
    part = x[rank::2].clone().requires_grad_()
    (bn(part) * w[rank::2]).sum().backward()
    grads = torch.cat([bn.weight.grad, bn.bias.grad])
    dist.all_reduce(grads)
    # numpy arrays travel by value: a tensor would travel as a shared-memory handle, which the parent
    # cannot open once this process has exited
    results.put((rank, *(t.detach().numpy() for t in (part.grad, grads, bn.running_mean, bn.running_var))))
    dist.destroy_process_group()


def test_global_batchnorm_over_two_processes_is_batchnorm_over_their_union():
    x, w = torch.randn(16, 3, 5, 5) * 3 + 1, torch.randn(16, 3, 5, 5)
    bn = nn.BatchNorm2d(3)
    whole = x.clone().requires_grad_()
    (bn(whole) * w).sum().backward()
    context = mp.get_context("spawn")
    results = context.Queue()
    port = 29500 + os.getpid() % 1000
    workers = [context.Process(target=_global_batchnorm_worker, args=(r, port, x, w, results)) for r in range(2)]
    for p in workers:
        p.start()
    received = [results.get(timeout=120) for _ in workers]
    for p in workers:
        p.join(timeout=60)
    for rank, *arrays in received:
        x_grad, param_grads, mean, var = (torch.from_numpy(a) for a in arrays)
        torch.testing.assert_close(x_grad, whole.grad[rank::2], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(param_grads, torch.cat([bn.weight.grad, bn.bias.grad]), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close((mean, var), (bn.running_mean, bn.running_var))


def test_only_global_rank_zero_keeps_the_record(monkeypatch):
    for name in ("RANK", "SLURM_PROCID", "LOCAL_RANK", "NODE_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert launched_as_rank_zero()
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert launched_as_rank_zero()
    monkeypatch.setenv("NODE_RANK", "1")  # the first process of the second node
    assert not launched_as_rank_zero()
    monkeypatch.setenv("NODE_RANK", "0")
    monkeypatch.setenv("SLURM_PROCID", "3")
    assert not launched_as_rank_zero()


def test_spawning_strategies_are_refused_with_the_fix(tmp_path):
    check_strategy("ddp")
    with pytest.raises(ConfigError, match="use trainer.strategy=ddp"):
        check_strategy("ddp_spawn")
    cfg = compose_run(["scale=cpu", f"results_dir={tmp_path}", "allow_outside_results=true", "trainer.strategy=ddp_spawn", "trainer.devices=2"])
    with pytest.raises(ConfigError):
        train_run(cfg)
    assert not (tmp_path / "runs").exists()  # refused before any record


def test_submitit_owns_slurm_requeue(monkeypatch):
    monkeypatch.delenv("SUBMITIT_EXECUTOR", raising=False)
    assert cluster_plugins() == []
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "slurm")
    (plugin,) = cluster_plugins()
    assert plugin.auto_requeue is False
