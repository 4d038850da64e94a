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

``--device cpu --tiny`` runs every section at toy sizes on the CPU (the tests do). The rungs are
bench/gpu_ladder.py's, the sections bench/gpu_sections.py's; this module runs them and writes gpu.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path

import torch

from inception_repro.bench.gpu_ladder import LADDER, NUM_CLASSES, TINY, Mode, Sizes, run_config, train_flops_per_image
from inception_repro.bench.gpu_sections import lightning_mode, pipeline, plain_loop
from inception_repro.bench.pipelines import write_jpeg_folder
from inception_repro.cli import run_cli
from inception_repro.provenance import atomic_write, provenance
from inception_repro.training.builders import network_config

H200_BF16_DENSE_FLOPS = 989e12  # NVIDIA's H200 datasheet, dense (no sparsity)
TARGET_IMAGES_PER_S, GOAL_IMAGES_PER_S = 4000, 6000  # one H200, 299 px, aux head
OUT = Path("results/bench/gpu.json")


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
