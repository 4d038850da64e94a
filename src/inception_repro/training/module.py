"""The paper's recipe (§8) around ``InceptionV3``: plain constructor arguments, no Hydra."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from torch.nn import functional as F
from torchmetrics.classification import MulticlassAccuracy

from inception_repro.metrics import LOSSES, SPLITS, TOP_K, logged_name
from inception_repro.models import InceptionOutputs, InceptionV3
from inception_repro.training.ema import WeightEMA
from inception_repro.training.optim import recipe_optimizer


def inception_loss(out: torch.Tensor | InceptionOutputs, target: torch.Tensor, label_smoothing: float, aux_weight: float):
    """Cross-entropy with label smoothing (§7) on the main logits plus ``aux_weight`` x the same on the aux logits.

    Returns (total, main, aux); aux is None without an aux head.
    """
    logits, aux_logits = (out.logits, out.aux_logits) if isinstance(out, InceptionOutputs) else (out, None)
    main = F.cross_entropy(logits, target, label_smoothing=label_smoothing)
    if aux_logits is None:
        return main, main, None
    aux = F.cross_entropy(aux_logits, target, label_smoothing=label_smoothing)
    return main + aux_weight * aux, main, aux


class InceptionLitModule(pl.LightningModule):
    """Training, validation and test of ``model``; raw and EMA weights are both evaluated.

    ``optimizer`` holds ``name`` (rmsprop | sgd), ``lr`` at ``reference_batch`` (scaled linearly to
    the global batch), ``lr_decay_rate`` every ``epochs_per_decay`` epochs (staircase, stepped
    per optimizer step) and the optimizer's hyper-parameters.
    """

    def __init__(
        self,
        model: InceptionV3,
        optimizer: dict[str, Any],
        batch_size: int,
        label_smoothing: float = 0.1,
        aux_weight: float = 0.4,
        ema_decay: float | None = 0.9999,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["model"])  # the network is in the state dict, not the hyper-parameters
        self.model = model.to(memory_format=torch.channels_last) if channels_last else model
        self.ema = WeightEMA(self.model, ema_decay) if ema_decay else None
        self._first_bad_step: torch.Tensor | None = None  # see _note_nonfinite_loss
        self._first_bad_loss: torch.Tensor | None = None
        num_classes = self.model.cfg.num_classes
        self.metrics = torch.nn.ModuleDict(
            {
                f"{split}_{weights}_{k}": MulticlassAccuracy(num_classes, top_k=min(topk, num_classes), average="micro")
                for split in SPLITS
                for weights in ("raw", "ema")
                for k, topk in TOP_K.items()
            }
        )

    @property
    def global_batch(self) -> int:
        return self.hparams.batch_size * self.trainer.world_size * self.trainer.accumulate_grad_batches

    def forward(self, x: torch.Tensor):
        return self.model(x)

    def _as_network_input(self, x: torch.Tensor) -> torch.Tensor:
        """The batch in the network's dtype (float64 under ``precision=64-true``) and memory format."""
        layout = torch.channels_last if self.hparams.channels_last else torch.contiguous_format
        return x.to(dtype=self.dtype, memory_format=layout)

    def training_step(self, batch, batch_idx):
        """One step with no host-device sync: the loss is checked on the device (``raise_if_nonfinite_loss``
        reads the check every ``log_every_n_steps`` steps and before every checkpoint)."""
        x, y = batch
        out = self.model(self._as_network_input(x))
        loss, main, aux = inception_loss(out, y, self.hparams.label_smoothing, self.hparams.aux_weight)
        self._note_nonfinite_loss(loss.detach())
        # Averaged over the replicas, so a DDP history reads like a 1-process one on the global batch.
        for name, value in zip(LOSSES, (loss, main, aux)):
            if value is not None:
                self.log(name, value, sync_dist=True)
        if self._is_logged(self.global_step + 1):  # a Python float is copied to the device: only on logged steps
            self.log("lr", self.trainer.optimizers[0].param_groups[0]["lr"])
        return loss

    def _is_logged(self, steps_done: int) -> bool:
        """Whether the history gets a row once ``steps_done`` optimizer steps are done (Lightning's cadence)."""
        every = self.trainer.log_every_n_steps
        return every > 0 and steps_done % every == 0

    def _note_nonfinite_loss(self, loss: torch.Tensor) -> None:
        """Keep, on the device, the step and value of the first non-finite loss."""
        if self._first_bad_step is None:
            self._first_bad_step = torch.full((), -1, dtype=torch.long, device=loss.device)
            self._first_bad_loss = torch.zeros((), dtype=loss.dtype, device=loss.device)
        first = ~torch.isfinite(loss) & (self._first_bad_step < 0)
        self._first_bad_step = torch.where(first, self.global_step, self._first_bad_step)
        self._first_bad_loss = torch.where(first, loss, self._first_bad_loss)

    def raise_if_nonfinite_loss(self) -> None:
        """``FloatingPointError`` naming the first non-finite loss since training started (one sync)."""
        if self._first_bad_step is not None and (step := int(self._first_bad_step)) >= 0:
            raise FloatingPointError(f"non-finite loss {self._first_bad_loss.item()} at step {step}")

    def on_train_start(self) -> None:
        self._first_bad_step = self._first_bad_loss = None

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        if self._is_logged(self.global_step) or self.trainer.is_last_batch:
            self.raise_if_nonfinite_loss()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """No checkpoint of a run whose loss went non-finite: it fails, and keeps its last good checkpoint."""
        self.raise_if_nonfinite_loss()

    def optimizer_step(self, *args, **kwargs) -> None:
        """The step, then the EMA update: both are done before a checkpoint of this step is written."""
        super().optimizer_step(*args, **kwargs)
        if self.ema is not None:
            self.ema.update(self.model)

    def _evaluate(self, batch, split: str) -> None:
        x, y = batch
        x = self._as_network_input(x)
        nets = {"raw": self.model, "ema": self.ema.module if self.ema is not None else None}
        for weights, net in nets.items():
            if net is None:
                continue
            logits = net(x)
            for k in TOP_K:
                self.metrics[f"{split}_{weights}_{k}"].update(logits, y)

    def _log_eval(self, split: str) -> None:
        """``<split>/top1`` is the EMA network when EMA is on (the paper's evaluation), ``*_raw`` the trained one."""
        main = "ema" if self.ema is not None else "raw"
        for k in TOP_K:
            self.log(logged_name(split, k), self.metrics[f"{split}_{main}_{k}"].compute())
            self.log(logged_name(split, k, raw=True), self.metrics[f"{split}_raw_{k}"].compute())
            for weights in ("raw", "ema"):
                self.metrics[f"{split}_{weights}_{k}"].reset()

    def validation_step(self, batch, batch_idx):
        self._evaluate(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_eval("val")

    def test_step(self, batch, batch_idx):
        self._evaluate(batch, "test")

    def on_test_epoch_end(self) -> None:
        self._log_eval("test")

    def configure_optimizers(self):
        steps_per_epoch = self.trainer.estimated_stepping_batches / max(1, self.trainer.max_epochs)
        optimizer, schedule = recipe_optimizer(self.hparams.optimizer, self.model.parameters(), self.global_batch,
                                               steps_per_epoch)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
