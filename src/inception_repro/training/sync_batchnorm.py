"""Batch norm over the global batch for CPU processes (gloo): torch's SyncBatchNorm runs on GPUs only."""

from __future__ import annotations

import torch
import torch.distributed as dist
from pytorch_lightning.plugins.layer_sync import LayerSync
from torch import nn


def _synced() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class _SumOverProcesses(torch.autograd.Function):
    """All-reduce (sum); the gradient of each process's input is the sum of every process's gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` whose training-mode statistics cover every process's batch.

    Mean and variance are all-reduced sums, in two passes and accumulated in float64 as torch's CPU
    kernel does; the all-reduce is differentiable, so gradients reach every replica's inputs as
    with one process.
    Running statistics get the unbiased global variance. Alone, or in eval mode, it is plain batch norm.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and _synced()):
            return super().forward(x)
        dims, channels = (0, 2, 3), x.shape[1]
        local = torch.cat([x.sum(dims, dtype=torch.float64), x.new_full((1,), x.numel() // channels, dtype=torch.float64)])
        sums = _SumOverProcesses.apply(local)
        count = sums[-1].detach()
        mean = (sums[:channels] / count).to(x.dtype)
        centred = x - mean[None, :, None, None]
        var = (_SumOverProcesses.apply((centred * centred).sum(dims, dtype=torch.float64)) / count).to(x.dtype)
        with torch.no_grad():
            self.num_batches_tracked += 1
            momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
            self.running_mean.lerp_(mean, momentum)
            self.running_var.lerp_(var * float(count / (count - 1)), momentum)
        out = centred * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.affine:
            out = out * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return out


class GlobalBatchNormSync(LayerSync):
    """Lightning plugin: every ``nn.BatchNorm2d`` becomes a ``GlobalBatchNorm2d`` (same parameters and buffers)."""

    def apply(self, model: nn.Module) -> nn.Module:
        for module in model.modules():
            if type(module) is nn.BatchNorm2d:
                module.__class__ = GlobalBatchNorm2d
        return model

    def revert(self, model: nn.Module) -> nn.Module:
        for module in model.modules():
            if type(module) is GlobalBatchNorm2d:
                module.__class__ = nn.BatchNorm2d
        return model
