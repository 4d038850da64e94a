"""Seeds of the whole study per hour of this machine, before and after shared runs and parallel workers.

- ``before``: every run of every ablation trained, one after another, each on torch's default threads
  (one per core): how the grids ran until runs of one config were shared.
- ``after``: each config once (``store.plan.share_identical``), ``workers`` runs at once on one thread each
  (``ablate --jobs``), every worker measured while the others step.

Each run's training step is timed on its own network and recipe (random batches of the scale's
batch size); seconds per seed add up images per run / images per second over the runs of one seed.
Validation and test passes are not counted, so both figures are upper bounds on what a grid does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

import torch
from omegaconf import DictConfig, OmegaConf

from inception_repro.ablate import parse_ablations, plan_grid
from inception_repro.grid_schedule import available_cores
from inception_repro.bench.loops import scaling_point
from inception_repro.data.fashion_mnist import TRAIN_SIZE

WHOLE_STUDY = ("all",)  # the ablations whose runs make a seed of the study


def study_runs(overrides: tuple[str, ...] = (), ablations: tuple[str, ...] = WHOLE_STUDY) -> tuple[list[DictConfig], list[DictConfig]]:
    """The cpu scale's runs of one seed of ``ablations`` (the whole study): all of them, and those
    trained once shared."""
    with tempfile.TemporaryDirectory() as empty:  # an empty store: nothing is recorded yet
        store = [f"results_dir={empty}", "allow_outside_results=true", "logger=none", *overrides]
        planned = plan_grid(parse_ablations(list(ablations)), "cpu", "1", store, force=False)
    return [p.cfg for p in planned], [p.cfg for p in planned if p.action != "share"]


def images_per_run(cfg: DictConfig) -> int:
    """Training images one run steps through (the subset, else the 55,000 left after validation)."""
    per_epoch = cfg.data.train_subset or TRAIN_SIZE - cfg.data.val_size
    return int(per_epoch) * int(cfg.trainer.max_epochs)


def measure(configs: list[DictConfig], threads: int, steps: int) -> list[float]:
    """Training images/s of each config's step on ``threads`` threads, in a fresh interpreter."""
    payload = json.dumps([OmegaConf.to_container(c) for c in configs])
    command = [sys.executable, "-m", "inception_repro.bench.study_rate", str(threads), str(steps)]
    done = subprocess.run(command, input=payload, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_concurrently(configs: list[DictConfig], workers: int, steps: int) -> list[float]:
    """Images/s of each config on one thread while ``workers`` - 1 other processes step theirs."""
    shares = [configs[i::workers] for i in range(workers)]
    payloads = [json.dumps([OmegaConf.to_container(c) for c in share]) for share in shares]
    command = [sys.executable, "-m", "inception_repro.bench.study_rate", "1", str(steps)]
    procs = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in shares]
    outputs = [p.communicate(payload)[0] for p, payload in zip(procs, payloads)]
    rates = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    by_config = {id(c): r for share, rs in zip(shares, rates) for c, r in zip(share, rs)}
    return [by_config[id(c)] for c in configs]


def seeds_per_hour(configs: list[DictConfig], rates: list[float], workers: int) -> float:
    seconds = sum(images_per_run(c) / rate for c, rate in zip(configs, rates)) / workers
    return 3600.0 / seconds


def study_rate(steps: int = 4, overrides: tuple[str, ...] = (), ablations: tuple[str, ...] = WHOLE_STUDY) -> dict:
    """The ``before`` and ``after`` seeds per hour of this machine (see the module's docstring)."""
    every, unique = study_runs(overrides, ablations)
    cores = available_cores()
    before = measure(every, cores, steps)
    after = measure_concurrently(unique, cores, steps)
    return {
        "cores": cores,
        "ablations": list(ablations),
        "runs_per_seed": len(every),
        "configs_per_seed": len(unique),
        "before_seeds_per_hour": seeds_per_hour(every, before, 1),
        "after_seeds_per_hour": seeds_per_hour(unique, after, cores),
        "counts": "training steps only (validation and test passes excluded)",
        "runs": [
            {"ablation": c.ablation, "variant": c.variant, "images": images_per_run(c),
             "images_per_s_all_threads": r, **({"images_per_s_one_thread": a} if a is not None else {})}
            for c, r, a in zip(every, before, _rates_of(every, unique, after))
        ],
    }


def _rates_of(every: list[DictConfig], unique: list[DictConfig], rates: list[float]) -> list[float | None]:
    """``rates`` (of ``unique``) lined up with ``every``: None for a run that another one shares."""
    by_name = {(c.ablation, c.variant): r for c, r in zip(unique, rates)}
    return [by_name.get((c.ablation, c.variant)) for c in every]


def main() -> int:
    """``python -m inception_repro.bench.study_rate THREADS STEPS`` < configs as JSON: their images/s."""
    threads, steps = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(threads)
    configs = [OmegaConf.create(c) for c in json.loads(sys.stdin.read())]
    rates = [scaling_point(c, 10, int(c.data.batch_size), steps)["images_per_s"] for c in configs]
    print(json.dumps(rates))
    return 0


if __name__ == "__main__":
    sys.exit(main())
