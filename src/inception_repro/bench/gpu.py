"""``make bench-gpu``: one prepared script for a single GPU (an H200 here), under 8 minutes.

Measures training images/s of the full network at 299 px for fp32 (cuDNN's TF32 on, PyTorch's
default), bf16, bf16 + channels_last and + torch.compile; model-FLOPs utilisation against the
chip's dense BF16 peak; eager vs compiled losses on the same batches; GPU JPEG decoding (the
fast ImageNet input path); and a short aux ablation at 299 px through the real grid runner.
Writes one JSON file with provenance.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from inception_repro.cli import run_cli
from inception_repro.models import InceptionConfig, InceptionV3
from inception_repro.provenance import provenance
from inception_repro.training.module import inception_loss

H200_BF16_DENSE_FLOPS = 989e12  # ANCHORS.md
MODES = {
    "fp32": dict(dtype=None, channels_last=False, compile=False),
    "bf16": dict(dtype=torch.bfloat16, channels_last=False, compile=False),
    "bf16_channels_last": dict(dtype=torch.bfloat16, channels_last=True, compile=False),
    "bf16_channels_last_compile": dict(dtype=torch.bfloat16, channels_last=True, compile=True),
}


def train_flops_per_image(cfg: InceptionConfig) -> int:
    """FLOPs of one training step per image (forward with the aux head + backward), counted."""
    model = InceptionV3(cfg).train()
    x = torch.randn(2, cfg.in_chans, cfg.pixels, cfg.pixels)
    with FlopCounterMode(display=False) as counter:
        loss, _, _ = inception_loss(model(x), torch.zeros(2, dtype=torch.long), 0.1, 0.4)
        loss.backward()
    return counter.get_total_flops() // 2


def _setup(cfg: InceptionConfig, mode: dict, seed: int = 0):
    torch.manual_seed(seed)
    model = InceptionV3(cfg).cuda()
    if mode["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.045 * 128 / 1600, alpha=0.9, eps=1.0, momentum=0.9,
                                    weight_decay=4e-5)
    if mode["compile"]:
        model.compile()
    return model, optimizer


def _step(model, optimizer, x, y, mode) -> torch.Tensor:
    with torch.autocast("cuda", dtype=mode["dtype"], enabled=mode["dtype"] is not None):
        loss, _, _ = inception_loss(model(x), y, 0.1, 0.4)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
    optimizer.step()
    return loss.detach()


def _batches(n: int, batch: int, cfg: InceptionConfig, channels_last: bool, seed: int = 1):
    g = torch.Generator(device="cuda").manual_seed(seed)
    out = []
    for _ in range(n):
        x = torch.randn(batch, 3, cfg.pixels, cfg.pixels, device="cuda", generator=g)
        y = torch.randint(0, cfg.num_classes, (batch,), device="cuda", generator=g)
        out.append((x.contiguous(memory_format=torch.channels_last) if channels_last else x, y))
    return out


def throughput(cfg: InceptionConfig, mode: dict, batch: int, steps: int, warmup: int) -> dict:
    model, optimizer = _setup(cfg, mode)
    data = _batches(4, batch, cfg, mode["channels_last"])
    start = time.perf_counter()
    for i in range(warmup):
        _step(model, optimizer, *data[i % 4], mode)
    torch.cuda.synchronize()
    warmup_s = time.perf_counter() - start
    begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    begin.record()
    for i in range(steps):
        _step(model, optimizer, *data[i % 4], mode)
    end.record()
    torch.cuda.synchronize()
    step_ms = begin.elapsed_time(end) / steps
    return {"batch": batch, "step_ms": step_ms, "images_per_s": batch * 1000 / step_ms, "warmup_s": warmup_s,
            "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30}


def eager_vs_compiled(cfg: InceptionConfig, batch: int, steps: int) -> dict:
    """Losses of the same init on the same batches, eager and compiled (bf16, channels_last)."""
    losses = {}
    for name, compiled in (("eager", False), ("compiled", True)):
        mode = {**MODES["bf16_channels_last"], "compile": compiled}
        model, optimizer = _setup(cfg, mode, seed=123)
        data = _batches(steps, batch, cfg, True, seed=7)
        losses[name] = [float(_step(model, optimizer, x, y, mode)) for x, y in data]
    diffs = [abs(a - b) / abs(a) for a, b in zip(losses["eager"], losses["compiled"])]
    return {**losses, "max_relative_difference": max(diffs), "final_relative_difference": diffs[-1]}


def jpeg_decode(n: int = 512, size: int = 299) -> dict:
    """GPU JPEG decoding (torchvision.io.decode_jpeg on the device) vs one CPU core."""
    from PIL import Image
    from torchvision.io import decode_jpeg

    g = torch.Generator().manual_seed(0)
    encoded = []
    for _ in range(16):
        array = (torch.rand(size, size, 3, generator=g) * 255).to(torch.uint8).numpy()
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="JPEG", quality=90)
        encoded.append(torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8))
    batch = [encoded[i % 16] for i in range(n)]
    decode_jpeg(batch[:32], device="cuda")
    torch.cuda.synchronize()
    start = time.perf_counter()
    decode_jpeg(batch, device="cuda")
    torch.cuda.synchronize()
    gpu = n / (time.perf_counter() - start)
    start = time.perf_counter()
    for data in batch[:128]:
        decode_jpeg(data)
    cpu = 128 / (time.perf_counter() - start)
    return {"images": n, "size": size, "gpu_images_per_s": gpu, "cpu_one_core_images_per_s": cpu}


def aux_overrides(results_dir: Path, data_root: str | None, train_subset: int, epochs: int) -> list[str]:
    """The gpu-scale aux runs' overrides. The LR follows the cpu scale's short-budget rule (0.045 at
    the run's own batch, decay every 0.1 epoch): the paper's 0.045 x 128 / 1600 left the first H200
    run (100 steps) at chance."""
    return [f"results_dir={results_dir}", "allow_outside_results=true", "logger=none", f"data.train_subset={train_subset}",
            f"trainer.max_epochs={epochs}", "data.num_workers=4", "optimizer.reference_batch=128",
            "optimizer.epochs_per_decay=0.1", *([f"data.root={data_root}"] if data_root else [])]


def aux_ablation(results_dir: Path, data_root: str | None, train_subset: int, epochs: int) -> dict:
    """The real grid runner on the gpu scale (full width, 299 px, Fashion-MNIST resized), one seed."""
    from inception_repro import ablate
    from inception_repro.runs import RunFolder, run_path

    overrides = aux_overrides(results_dir, data_root, train_subset, epochs)
    start = time.perf_counter()
    code = ablate.main(["aux", "--scale", "gpu", "--seeds", "1", "--", *overrides])
    runs = {}
    for variant in ("none", "plain", "bn"):
        summary = RunFolder(run_path(results_dir, "gpu", "aux", variant, 0)).read_summary() or {}
        runs[variant] = {k: summary.get(k) for k in ("status", "test_top1", "test_top1_raw", "val_top1",
                                                     "train_images_per_s", "wall_time_s", "epochs", "device")}
    return {"exit_code": code, "overrides": overrides, "wall_s": time.perf_counter() - start, "runs": runs}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/bench/gpu.json")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--data-root", default=None, help="Fashion-MNIST files (the device has no internet)")
    parser.add_argument("--aux-train-subset", type=int, default=36000)
    parser.add_argument("--aux-epochs", type=int, default=2)
    parser.add_argument("--skip", nargs="*", default=[], help="sections to skip: modes compile jpeg aux")
    parser.add_argument("--source-commit", default=None, help="the commit of the code run (the device copy has no .git)")
    args = parser.parse_args(argv)
    torch.backends.cudnn.benchmark = True
    cfg = InceptionConfig()  # Inception-v3, aux=bn, 1000 classes, 299 px
    flops = train_flops_per_image(cfg)
    report: dict = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "model": cfg.to_dict(),
                    "train_flops_per_image": flops, "peak_flops": H200_BF16_DENSE_FLOPS}

    def save() -> None:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        meta = provenance(source_commit=args.source_commit, command="make bench-gpu (" + " ".join(argv or []) + ")")
        Path(args.out).write_text(json.dumps({**report, "provenance": meta}, indent=2, default=str) + "\n")

    if "modes" not in args.skip:
        report["throughput_299"] = {}
        for name, mode in MODES.items():
            result = throughput(cfg, mode, args.batch, args.steps, warmup=15 if mode["compile"] else 5)
            result["mfu"] = result["images_per_s"] * flops / H200_BF16_DENSE_FLOPS
            report["throughput_299"][name] = result
            print(f"{name:28s} {result['images_per_s']:8.0f} img/s  MFU {result['mfu']:.1%}  "
                  f"warmup {result['warmup_s']:.0f}s", flush=True)
            save()
    if "compile" not in args.skip:
        report["eager_vs_compiled"] = eager_vs_compiled(cfg, batch=64, steps=20)
        print("eager vs compiled max rel. loss diff", report["eager_vs_compiled"]["max_relative_difference"], flush=True)
        save()
    if "jpeg" not in args.skip:
        report["jpeg_decode"] = jpeg_decode()
        print("jpeg decode", report["jpeg_decode"], flush=True)
        save()
    if "aux" not in args.skip:
        report["aux_ablation_299"] = aux_ablation(Path(args.out).parent / "gpu_runs", args.data_root,
                                                  args.aux_train_subset, args.aux_epochs)
        print(json.dumps(report["aux_ablation_299"], indent=1), flush=True)
        save()


if __name__ == "__main__":
    sys.exit(run_cli(main, sys.argv[1:]))  # one line, the traceback in a crash.log
