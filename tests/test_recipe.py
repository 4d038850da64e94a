"""The training recipe (§7, §8) against hand-computed values on tiny inputs."""

from __future__ import annotations

import io
import math

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from inception_repro.config import compose_run
from inception_repro.models import InceptionOutputs, build_model
from inception_repro.training.ema import WeightEMA
from inception_repro.training.module import InceptionLitModule, inception_loss
from inception_repro.training.optim import TFRMSprop, build_optimizer
from inception_repro.training.schedule import scaled_lr, staircase_factor

RMSPROP = dict(decay=0.9, momentum=0.9, eps=1.0)


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


@pytest.mark.parametrize(("scale", "decay"), [("cpu", 0.998), ("gpu", 0.999), ("paper", 0.9999)])
def test_the_scale_sets_the_ema_decay_and_the_user_overrides_it(scale, decay):
    assert compose_run([f"scale={scale}"]).ema.decay == decay
    assert compose_run([f"scale={scale}", "ablation=aux", "variant=none"]).ema.decay == decay
    assert compose_run([f"scale={scale}", "ema.decay=0.5"]).ema.decay == 0.5
    assert compose_run([f"scale={scale}", "ema.decay=null"]).ema.decay is None


def test_tensorflow_rmsprop_two_steps_by_hand():
    """ApplyRMSProp: ms <- 0.9 ms + 0.1 g^2 (ms starts at 1); mom <- 0.9 mom + lr g / sqrt(ms + 1);
    p <- p - mom. The L2 term (decay 0.1) adds 0.1 p to the gradient of the 2-D weight only; the
    staircase schedule halves the LR (0.1 -> 0.05) of both parameter groups between the steps, and
    the momentum keeps the first step's LR."""
    weight = torch.nn.Parameter(torch.tensor([[1.0, -2.0]]))
    bias = torch.nn.Parameter(torch.tensor([3.0]))
    optimizer = build_optimizer("rmsprop", [weight, bias], lr=0.1, weight_decay=0.1, **RMSPROP)
    assert isinstance(optimizer, TFRMSprop)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: staircase_factor(step, 1, 1.0, 0.5))
    for g_weight, g_bias in [([0.5, 1.0], [-1.0]), ([-1.0, 2.0], [4.0])]:
        weight.grad, bias.grad = torch.tensor([g_weight]), torch.tensor(g_bias)
        optimizer.step()
        schedule.step()
    # Weight, first element: g1 = 0.5 + 0.1 * 1 = 0.6
    ms1 = 0.9 + 0.1 * 0.6**2                        # 0.936
    mom1 = 0.1 * 0.6 / math.sqrt(ms1 + 1.0)
    p1 = 1.0 - mom1
    g2 = -1.0 + 0.1 * p1
    ms2 = 0.9 * ms1 + 0.1 * g2**2
    mom2 = 0.9 * mom1 + 0.05 * g2 / math.sqrt(ms2 + 1.0)
    w0 = p1 - mom2
    # Weight, second element: g1 = 1.0 + 0.1 * -2 = 0.8
    ms1 = 0.9 + 0.1 * 0.8**2
    mom1 = 0.1 * 0.8 / math.sqrt(ms1 + 1.0)
    p1 = -2.0 - mom1
    g2 = 2.0 + 0.1 * p1
    ms2 = 0.9 * ms1 + 0.1 * g2**2
    mom2 = 0.9 * mom1 + 0.05 * g2 / math.sqrt(ms2 + 1.0)
    w1 = p1 - mom2
    # Bias: no weight decay. g1 = -1, g2 = 4
    ms1 = 0.9 + 0.1 * 1.0
    mom1 = 0.1 * -1.0 / math.sqrt(ms1 + 1.0)
    ms2 = 0.9 * ms1 + 0.1 * 16.0
    mom2 = 0.9 * mom1 + 0.05 * 4.0 / math.sqrt(ms2 + 1.0)
    b = 3.0 - mom1 - mom2
    assert weight.detach().tolist()[0] == pytest.approx([w0, w1], rel=1e-6)
    assert bias.item() == pytest.approx(b, rel=1e-6)
    assert optimizer.state[bias]["mean_square"].item() == pytest.approx(ms2, rel=1e-6)


def test_weight_decay_skips_batch_norm_and_biases():
    model = build_model(width=0.0625, num_classes=10, in_chans=1, aux="plain")
    for name in ("rmsprop", "rmsprop_torch", "sgd"):
        optimizer = build_optimizer(name, model.parameters(), lr=0.1, weight_decay=4e-5, **RMSPROP)
        decay = {id(p): group["weight_decay"] for group in optimizer.param_groups for p in group["params"]}
        for module in model.modules():
            for kind, p in module.named_parameters(recurse=False):
                expected = 4e-5 if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)) and kind == "weight" else 0.0
                assert decay[id(p)] == expected, (name, module, kind)
        assert len(decay) == len(list(model.parameters()))
    assert type(build_optimizer("rmsprop_torch", model.parameters(), lr=0.1, weight_decay=0.0, **RMSPROP)) is torch.optim.RMSprop


def test_tensorflow_rmsprop_resumes_from_its_state_dict():
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(3, 2)), torch.nn.Parameter(torch.randn(2))]
    grads = [[torch.randn_like(p) for p in params] for _ in range(3)]

    def step(optimizer, params, g):
        for p, grad in zip(params, g):
            p.grad = grad.clone()
        optimizer.step()

    optimizer = build_optimizer("rmsprop", params, lr=0.1, weight_decay=0.01, **RMSPROP)
    for g in grads[:2]:
        step(optimizer, params, g)
    copies = [torch.nn.Parameter(p.detach().clone()) for p in params]
    resumed = build_optimizer("rmsprop", copies, lr=0.1, weight_decay=0.01, **RMSPROP)
    saved = io.BytesIO()
    torch.save(optimizer.state_dict(), saved)  # as a checkpoint holds it
    saved.seek(0)
    resumed.load_state_dict(torch.load(saved, weights_only=True))
    step(optimizer, params, grads[2])
    step(resumed, copies, grads[2])
    for a, b in zip(params, copies):
        assert torch.equal(a, b)


def _module(optimizer: str) -> InceptionLitModule:
    return InceptionLitModule(
        build_model(width=0.125, num_classes=10, in_chans=1, resolution=79, input_size=28, aux="bn", dropout=0.0),
        optimizer=dict(name=optimizer, lr=1.0, reference_batch=16, momentum=0.0, weight_decay=0.0, decay=0.9, eps=1.0,
                       lr_decay_rate=0.94, epochs_per_decay=2.0),
        batch_size=8, label_smoothing=0.1, aux_weight=0.4, ema_decay=None,
    )


def _one_step_module(clip: float | None, optimizer: str = "sgd"):
    torch.manual_seed(0)
    module = _module(optimizer)
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    trainer = pl.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         gradient_clip_val=clip, gradient_clip_algorithm="norm", accelerator="cpu")
    return module, trainer, x, y


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop"])
@pytest.mark.parametrize("clip", [2.0, 1e-3])
def test_one_step_applies_the_scaled_lr_to_norm_clipped_gradients(clip, optimizer):
    """LR 1.0 at batch 16 is 0.5 at batch 8; RMSProp's first step divides by sqrt(0.9 + 0.1 g^2 + 1)."""
    module, trainer, x, y = _one_step_module(clip, optimizer)
    reference = _module(optimizer)
    reference.load_state_dict(module.state_dict())
    reference.train()
    loss, _, _ = inception_loss(reference.model(x), y, 0.1, 0.4)
    loss.backward()
    grads = [p.grad for p in reference.model.parameters()]
    norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads)).item()
    scale = min(1.0, clip / (norm + 1e-6))
    divisor = (lambda g: torch.sqrt(0.9 + 0.1 * g**2 + 1.0)) if optimizer == "rmsprop" else (lambda g: 1.0)
    expected = [p.detach() - 0.5 * scale * g / divisor(scale * g) for p, g in zip(reference.model.parameters(), grads)]
    trainer.fit(module, DataLoader(TensorDataset(x, y), batch_size=8))
    for got, want in zip(module.model.parameters(), expected):
        torch.testing.assert_close(got.detach(), want, atol=1e-5, rtol=1e-4)
    assert math.isfinite(norm) and (scale < 1.0) == (clip < norm)
