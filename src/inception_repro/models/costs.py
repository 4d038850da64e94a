"""Size and cost of a network: parameters and multiply-adds of one eval forward (abstract, §9 Table 2)."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from inception_repro.models.config import InceptionConfig
from inception_repro.models.inception import InceptionV3


def count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_macs(model: InceptionV3) -> int:
    """Multiply-adds of one eval-mode forward of a single image (FlopCounterMode FLOPs / 2).

    The aux head does not run in eval mode, so it costs nothing here, as in the paper's figures.
    """
    cfg = model.cfg
    was_training = model.training
    model.eval()
    x = torch.zeros(1, cfg.in_chans, cfg.pixels, cfg.pixels)
    with FlopCounterMode(display=False) as counter:
        model(x)
    model.train(was_training)
    return counter.get_total_flops() // 2


def network_costs(model: InceptionV3) -> dict[str, int]:
    """Parameters (aux head included when on) and eval multiply-adds of ``model``."""
    return {"params": count_params(model), "macs": count_macs(model)}


def model_costs(cfg: InceptionConfig) -> dict[str, int]:
    """``network_costs`` of the network ``cfg`` builds."""
    return network_costs(InceptionV3(cfg))
