"""``make bench-gpu``: the project's real Lightning training step on one GPU (an H200), under 8 minutes.

The gpu scale's run (aux/bn: full width, 299 px, aux head, Fashion-MNIST's 10 classes, one
channel), through ``InceptionLitModule`` under a Trainer set up as a run's, at each rung of a
ladder: fp32 (TF32), bf16, + channels_last, + batch 512, + torch.compile, + CUDA graphs
(compile's reduce-overhead mode). Each rung: images/s over timed steps on batches already on the
device, model-FLOPs utilisation against the chip's dense BF16 peak, host-device syncs per step
(CUDA's sync debug mode over ``log_every_n_steps`` steps) and peak device memory. Then, at the
fastest rung: the same step written as a plain loop (``bench.plain_step.PlainLoop``); at the fastest
eager rung (no compile per pipeline), the full pipelines: the Fashion-MNIST data module (uint8
28 px, resized on the device), the ImageFolder loader (CPU JPEG decode in 16 workers) and device
JPEG decode, both on synthetic JPEGs. results/bench/gpu.json
is rewritten after every measurement, so a run cut off keeps what it measured; its top level has
``lightning_images_per_s`` (fastest rung) and ``mfu``.

``--device cpu --tiny`` runs every section at toy sizes on the CPU (the tests do).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

from inception_repro.bench.device_timing import StepTimer, bench_trainer, synchronize
from inception_repro.bench.pipelines import DeviceDecodedBatches, write_jpeg_folder
from inception_repro.bench.plain_step import PlainLoop
from inception_repro.cli import run_cli
from inception_repro.config import compose_run
from inception_repro.provenance import atomic_write, provenance
from inception_repro.training.builders import build_datamodule, build_module, build_network, network_config
from inception_repro.training.module import inception_loss

H200_BF16_DENSE_FLOPS = 989e12  # NVIDIA's H200 datasheet, dense (no sparsity)
TARGET_IMAGES_PER_S, GOAL_IMAGES_PER_S = 4000, 6000  # one H200, 299 px, aux head
NUM_CLASSES = 10
OUT = Path("results/bench/gpu.json")


@dataclass(frozen=True)
class Mode:
    """One rung of the ladder: the trainer's precision, memory format, per-device batch, and
    ``compile``: None (eager) or a torch.compile mode ("reduce-overhead" captures CUDA graphs)."""

    name: str
    precision: str
    channels_last: bool
    batch: int
    compile: str | None = None


LADDER = (
    Mode("fp32", "32-true", False, 128),
    Mode("bf16", "bf16-mixed", False, 128),
    Mode("bf16_channels_last", "bf16-mixed", True, 128),
    Mode("bf16_channels_last_b512", "bf16-mixed", True, 512),
    Mode("bf16_channels_last_b512_compile", "bf16-mixed", True, 512, "default"),
    Mode("bf16_channels_last_b512_cuda_graphs", "bf16-mixed", True, 512, "reduce-overhead"),
)


@dataclass(frozen=True)
class Sizes:
    """How much to run: the defaults fit 8 minutes on an H200; ``tiny`` is seconds on a CPU."""

    warmup: int = 5
    compile_warmup: int = 12
    steps: int = 20
    pipeline_steps: int = 12
    tiny: bool = False

    def batch(self, mode: Mode) -> int:
        return 2 if self.tiny else mode.batch


TINY = Sizes(warmup=1, compile_warmup=1, steps=2, pipeline_steps=2, tiny=True)


def run_config(mode: Mode, sizes: Sizes, device: str, *overrides: str) -> DictConfig:
    """The gpu scale's aux/bn run at ``mode``; tiny: width 0.125 at 75 px. ``trainer.compile`` is off:
    the rung's own mode compiles (``bench_module``), so eager rungs and pipelines stay eager."""
    tiny = ["model.width=0.125", "model.input_size=75", "trainer.log_every_n_steps=2"] if sizes.tiny else []
    return compose_run([
        "scale=gpu", "ablation=aux", "variant=bn", "logger=none", f"trainer.accelerator={device}", "trainer.compile=false",
        f"trainer.precision={mode.precision}", f"trainer.channels_last={mode.channels_last}",
        f"data.batch_size={sizes.batch(mode)}", *tiny, *overrides,
    ])


def train_flops_per_image(cfg: DictConfig, num_classes: int = NUM_CLASSES) -> int:
    """FLOPs of one training step per image (forward with the aux head + backward), counted."""
    model = build_network(cfg, num_classes).train()
    x = torch.randn(2, model.cfg.in_chans, model.cfg.pixels, model.cfg.pixels)
    with FlopCounterMode(display=False) as counter:
        loss, _, _ = inception_loss(model(x), torch.zeros(2, dtype=torch.long), float(cfg.loss.label_smoothing),
                                    float(cfg.loss.aux_weight))
        loss.backward()
    return counter.get_total_flops() // 2


def device_batches(cfg: DictConfig, n: int, device: torch.device, seed: int = 1) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` batches of the run's input shape already on ``device``: 4 distinct ones, cycled."""
    g = torch.Generator().manual_seed(seed)
    b, c, s = int(cfg.data.batch_size), int(cfg.data.in_chans), int(cfg.model.input_size)
    distinct = [(torch.rand(b, c, s, s, generator=g).mul_(2).sub_(1).to(device),
                 torch.randint(0, NUM_CLASSES, (b,), generator=g).to(device)) for _ in range(min(n, 4))]
    return [distinct[i % len(distinct)] for i in range(n)]


def _rate(images: int, seconds: float, flops: int, peak: float) -> dict:
    rate = images / seconds if seconds > 0 else None
    return {"images_per_s": rate, "mfu": rate * flops / peak if rate else None}


def _reset_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_memory_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def bench_module(cfg: DictConfig, mode: Mode):
    """The run's LightningModule, its weights drawn from seed 0, compiled in ``mode``'s torch.compile mode."""
    torch.manual_seed(0)
    module = build_module(cfg, build_network(cfg, NUM_CLASSES))
    if mode.compile:
        module.model.compile(mode=mode.compile)
    return module


def lightning_mode(mode: Mode, sizes: Sizes, device: torch.device, flops: int, peak: float, folder: Path) -> dict:
    """images/s, MFU, syncs per step and peak memory of the real Lightning step at ``mode``."""
    cfg = run_config(mode, sizes, device.type)
    _reset_memory(device)
    module = bench_module(cfg, mode)
    warmup = sizes.compile_warmup if mode.compile else sizes.warmup
    counted = int(cfg.trainer.log_every_n_steps)
    timer = StepTimer(device, warmup, sizes.steps, counted)
    start = time.perf_counter()
    batches = DataLoader(device_batches(cfg, timer.total, device), batch_size=None)  # each item is a batch
    bench_trainer(cfg, timer, folder).fit(module, train_dataloaders=batches)
    batch = int(cfg.data.batch_size)
    return {**asdict(mode), "batch": batch, **_rate(batch * sizes.steps, timer.seconds, flops, peak),
            "step_ms": 1000 * timer.seconds / sizes.steps, "warmup_and_compile_s": time.perf_counter() - start - timer.seconds,
            "syncs_per_step": timer.syncs / counted if timer.syncs is not None else None, "counted_steps": counted,
            "peak_memory_gib": _peak_memory_gib(device)}


def plain_loop(mode: Mode, sizes: Sizes, device: torch.device, flops: int, peak: float) -> dict:
    """The same step by hand (no Lightning) at ``mode``, on the same batches."""
    cfg = run_config(mode, sizes, device.type)
    _reset_memory(device)
    torch.manual_seed(0)
    warmup = sizes.compile_warmup if mode.compile else sizes.warmup
    batches = device_batches(cfg, warmup + sizes.steps, device)
    loop = PlainLoop(cfg, NUM_CLASSES, steps_per_epoch=len(batches), compile=mode.compile).to(device)
    for x, y in batches[:warmup]:
        loop.step(x, y)
    synchronize(device)
    start = time.perf_counter()
    for x, y in batches[warmup:]:
        loop.step(x, y)
    synchronize(device)
    seconds = time.perf_counter() - start
    batch = int(cfg.data.batch_size)
    return {**asdict(mode), "batch": batch, **_rate(batch * sizes.steps, seconds, flops, peak),
            "peak_memory_gib": _peak_memory_gib(device)}


def pipeline(name: str, mode: Mode, sizes: Sizes, device: torch.device, flops: int, peak: float, folder: Path,
             data_root: str | None, jpegs: Path) -> dict:
    """The Lightning step at ``mode`` fed by a real input pipeline: ``fashion_mnist`` (the gpu
    scale's data module), ``imagefolder`` (CPU decode, slim's augmentation in loader workers) or
    ``device_decode`` (``DeviceDecodedBatches``)."""
    workers = min(16, os.cpu_count() or 1)
    data = {"fashion_mnist": [*([f"data.root={data_root}"] if data_root else [])],
            "imagefolder": ["data=imagefolder", f"data.root={jpegs}", f"data.num_workers={workers}"],
            "device_decode": ["data=imagefolder", f"data.root={jpegs}"]}[name]
    cfg = run_config(mode, sizes, device.type, *data)
    _reset_memory(device)
    module = bench_module(cfg, mode)
    warmup = sizes.compile_warmup if mode.compile else sizes.warmup
    timer = StepTimer(device, warmup, sizes.pipeline_steps)
    trainer = bench_trainer(cfg, timer, folder)
    if name == "device_decode":
        batches = DeviceDecodedBatches(jpegs / "train", int(cfg.data.batch_size), int(cfg.model.input_size), device,
                                       workers)
        trainer.fit(module, train_dataloaders=batches)
    else:
        trainer.fit(module, datamodule=build_datamodule(cfg))
    batch = int(cfg.data.batch_size)
    return {"pipeline": name, "mode": mode.name, "batch": batch,
            **_rate(batch * sizes.pipeline_steps, timer.seconds, flops, peak), "peak_memory_gib": _peak_memory_gib(device)}


class Report:
    """results/bench/gpu.json, rewritten (atomically) after every measurement."""

    def __init__(self, out: Path, header: dict, command: str, source_commit: str | None) -> None:
        self.out, self.data, self.command, self.source_commit = out, dict(header), command, source_commit

    def add(self, section: str, key: str | None, value) -> None:
        if key is None:
            self.data[section] = value
        else:
            self.data.setdefault(section, {})[key] = value
        self._summarize()
        self.out.parent.mkdir(parents=True, exist_ok=True)
        meta = provenance(command=self.command, source_commit=self.source_commit)
        text = json.dumps({**self.data, "provenance": meta}, indent=2, default=str) + "\n"
        atomic_write(self.out, lambda p: p.write_text(text))

    def _summarize(self) -> None:
        best = self.best_mode()
        if best is not None:
            measured = self.data["lightning"][best.name]
            rate = measured["images_per_s"]
            self.data.update(best_mode=best.name, lightning_images_per_s=rate, mfu=measured["mfu"],
                             target_met=rate >= TARGET_IMAGES_PER_S, goal_met=rate >= GOAL_IMAGES_PER_S)

    def best_mode(self, eager: bool = False) -> Mode | None:
        """The fastest rung timed (``eager``: of those without torch.compile)."""
        rates = {k: v["images_per_s"] for k, v in self.data.get("lightning", {}).items() if v.get("images_per_s")}
        modes = [m for m in LADDER if m.name in rates and not (eager and m.compile)]
        return max(modes, key=lambda m: rates[m.name], default=None)


def _attempt(report: Report, section: str, key: str | None, measure: Callable[[], dict]) -> None:
    """Run one measurement and record it, or record why it failed (the bench goes on)."""
    start = time.perf_counter()
    try:
        result = measure()
    except Exception as error:  # noqa: BLE001 - one mode failing (out of memory, no CUDA graphs) must not end the bench
        result = {"error": f"{error.__class__.__name__}: {' '.join(str(error).split())[:300]}"}
    result["wall_s"] = round(time.perf_counter() - start, 1)
    report.add(section, key, result)
    shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in result.items()
             if k in ("images_per_s", "mfu", "syncs_per_step", "peak_memory_gib", "error", "wall_s")}
    print(f"{section}{'/' + key if key else ''}: {shown}", flush=True)


def run(out: Path, device: torch.device, sizes: Sizes, modes: Iterable[Mode], data_root: str | None,
        command: str = "make bench-gpu", source_commit: str | None = None, skip: Iterable[str] = ()) -> dict:
    """Every section in order (``skip``: plain, pipelines); returns what was written to ``out``."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    cfg = run_config(LADDER[-1], sizes, device.type)
    flops = train_flops_per_image(cfg)
    peak = H200_BF16_DENSE_FLOPS
    header = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "torch": torch.__version__, "model": network_config(cfg, NUM_CLASSES).to_dict(), "train_flops_per_image": flops,
              "peak_flops": peak, "target_images_per_s": TARGET_IMAGES_PER_S, "goal_images_per_s": GOAL_IMAGES_PER_S,
              "sizes": asdict(sizes)}
    report = Report(out, header, command, source_commit)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for mode in modes:
            if mode.compile and device.type != "cuda":
                report.add("lightning", mode.name, {**asdict(mode), "skipped": "torch.compile is timed on CUDA only"})
                continue
            _attempt(report, "lightning", mode.name, lambda: lightning_mode(mode, sizes, device, flops, peak, folder))
        best = report.best_mode()
        if best is None:
            return report.data
        if "plain" not in skip:
            _attempt(report, "plain_loop", None, lambda: plain_loop(best, sizes, device, flops, peak))
        eager = report.best_mode(eager=True)
        if "pipelines" not in skip and eager is not None:  # eager: no compile per pipeline (the 3-channel ones recompile)
            per_class = -(-2 * sizes.batch(eager) // NUM_CLASSES)  # two batches, read again every epoch
            jpegs = write_jpeg_folder(folder / "jpegs", NUM_CLASSES, per_class)
            for name in ("fashion_mnist", "imagefolder", "device_decode"):
                _attempt(report, "pipelines", name,
                         lambda: pipeline(name, eager, sizes, device, flops, peak, folder, data_root, jpegs))
    return report.data


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="inception-bench-gpu", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--tiny", action="store_true", help="toy sizes (seconds on a CPU)")
    parser.add_argument("--modes", nargs="*", default=[m.name for m in LADDER], help="rungs of the ladder to time")
    parser.add_argument("--skip", nargs="*", default=[], choices=("plain", "pipelines"))
    parser.add_argument("--data-root", default=None, help="Fashion-MNIST files (the device machine has no internet)")
    parser.add_argument("--source-commit", default=None, help="the commit of the code run (a device copy has no .git)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.modes) - {m.name for m in LADDER})
    if unknown:
        print(f"error: unknown mode {', '.join(unknown)}; valid: {', '.join(m.name for m in LADDER)}", file=sys.stderr)
        return 2
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: no CUDA device here; run it on a lent GPU, or with --device cpu --tiny", file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore", module="pytorch_lightning")
    modes = [m for m in LADDER if m.name in args.modes]
    result = run(args.out, torch.device(args.device), TINY if args.tiny else Sizes(), modes, args.data_root,
                 command="make bench-gpu (" + " ".join(argv) + ")", source_commit=args.source_commit, skip=args.skip)
    print(f"wrote {args.out}: lightning_images_per_s={result.get('lightning_images_per_s')} mfu={result.get('mfu')}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, sys.argv[1:]))  # one line, the traceback in a crash.log
