"""The training recipe (§7, §8) against hand-computed values on tiny inputs."""

from __future__ import annotations

import math

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from inception_repro.models import InceptionOutputs
from inception_repro.training.ema import WeightEMA
from inception_repro.training.module import InceptionLitModule, inception_loss
from inception_repro.training.schedule import scaled_lr, staircase_factor


def test_linear_lr_scaling_rule():
    assert scaled_lr(0.045, 1600, 1600) == pytest.approx(0.045)
    assert scaled_lr(0.045, 1600, 64) == pytest.approx(0.045 * 64 / 1600)  # 0.0018


def test_staircase_decay_every_two_epochs():
    steps_per_epoch = 100
    factors = [staircase_factor(s, steps_per_epoch, 2.0, 0.94) for s in (0, 199, 200, 399, 400, 1000)]
    assert factors == pytest.approx([1.0, 1.0, 0.94, 0.94, 0.94**2, 0.94**5])


def test_label_smoothing_matches_the_paper_formula():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
    target = torch.tensor([0, 2])
    eps, k = 0.1, 3
    log_p = torch.log_softmax(logits, dim=1)
    q = torch.full((2, k), eps / k)  # q'(k) = (1 - eps) delta(k, y) + eps / K  (§7)
    q[0, 0] += 1 - eps
    q[1, 2] += 1 - eps
    expected = -(q * log_p).sum(1).mean()
    total, main, aux = inception_loss(logits, target, label_smoothing=eps, aux_weight=0.4)
    assert aux is None and total.item() == pytest.approx(expected.item(), rel=1e-6) == main.item()


def test_aux_loss_is_weighted_and_added():
    logits, aux_logits = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 3.0]])
    target = torch.tensor([0])
    ce = lambda z: -torch.log_softmax(z, 1)[0, 0].item()  # noqa: E731
    total, main, aux = inception_loss(InceptionOutputs(logits, aux_logits), target, 0.0, 0.4)
    assert main.item() == pytest.approx(ce(logits)) and aux.item() == pytest.approx(ce(aux_logits))
    assert total.item() == pytest.approx(ce(logits) + 0.4 * ce(aux_logits))


def test_ema_follows_the_tensorflow_num_updates_rule():
    model = torch.nn.Linear(1, 1, bias=False)
    ema = WeightEMA(model, decay=0.9)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema.module.weight.data.fill_(0.0)
    expected = 0.0
    for t, value in enumerate([1.0, 2.0, 3.0, 4.0, 5.0]):
        model.weight.data.fill_(value)
        decay = min(0.9, (1 + t) / (10 + t))
        expected = decay * expected + (1 - decay) * value
        ema.update(model)
        assert ema.module.weight.item() == pytest.approx(expected, rel=1e-6)
    assert int(ema.num_updates) == 5


def _one_step_module(clip: float | None):
    torch.manual_seed(0)
    module = InceptionLitModule(
        model=dict(width=0.125, num_classes=10, in_chans=1, resolution=79, input_size=28, aux="bn", dropout=0.0),
        optimizer=dict(name="sgd", lr=0.5, reference_batch=8, momentum=0.0, weight_decay=0.0,
                       lr_decay_rate=0.94, epochs_per_decay=2.0),
        batch_size=8, label_smoothing=0.1, aux_weight=0.4, ema_decay=None,
    )
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    trainer = pl.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         gradient_clip_val=clip, gradient_clip_algorithm="norm", accelerator="cpu")
    return module, trainer, x, y


@pytest.mark.parametrize("clip", [2.0, 1e-3])
def test_one_sgd_step_applies_the_lr_to_norm_clipped_gradients(clip):
    module, trainer, x, y = _one_step_module(clip)
    reference = InceptionLitModule(**module.hparams)
    reference.load_state_dict(module.state_dict())
    reference.train()
    loss, _, _ = inception_loss(reference.model(x), y, 0.1, 0.4)
    loss.backward()
    grads = [p.grad for p in reference.model.parameters()]
    norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads)).item()
    scale = min(1.0, clip / (norm + 1e-6))
    expected = [p.detach() - 0.5 * scale * g for p, g in zip(reference.model.parameters(), grads)]
    trainer.fit(module, DataLoader(TensorDataset(x, y), batch_size=8))
    for got, want in zip(module.model.parameters(), expected):
        torch.testing.assert_close(got.detach(), want, atol=1e-5, rtol=1e-4)
    assert math.isfinite(norm) and (scale < 1.0) == (clip < norm)
