"""The GPU bench's ladder (``make bench-gpu``): its rungs (precision, memory format, batch,
torch.compile mode), how much each is run, and what each rung times: the gpu scale's aux/bn run
config, its LightningModule, batches already on the device, and the FLOPs of one training step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from omegaconf import DictConfig
from torch.utils.flop_counter import FlopCounterMode

from inception_repro.config import compose_run
from inception_repro.training.builders import build_module, build_network
from inception_repro.training.module import inception_loss

NUM_CLASSES = 10


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


def bench_module(cfg: DictConfig, mode: Mode):
    """The run's LightningModule, its weights drawn from seed 0, compiled in ``mode``'s torch.compile mode."""
    torch.manual_seed(0)
    module = build_module(cfg, build_network(cfg, NUM_CLASSES))
    if mode.compile:
        module.model.compile(mode=mode.compile)
    return module
