"""One builder: the run's network is built once and handed to its module, and the benches' hand-written
step is the Lightning step (same network, recipe, optimizer, schedule and EMA, read from the config)."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from inception_repro.bench.device_timing import StepTimer, bench_trainer
from inception_repro.bench.plain_step import PlainLoop, StepRecipe
from inception_repro.config import compose_run
from inception_repro.training.builders import build_module, build_network


TINY = ["scale=cpu", "logger=none", "model.width=0.125", "model.dropout=0.0", "data.batch_size=4"]


def test_the_module_trains_the_network_it_is_handed_and_saves_only_its_weights():
    cfg = compose_run(TINY)
    network = build_network(cfg, 10)
    module = build_module(cfg, network)
    assert module.model is network
    assert {key.split(".")[0] for key in module.state_dict()} == {"model", "ema"}  # the checkpoint's keys
    assert "model" not in module.hparams and module.hparams.batch_size == 4


def test_the_step_recipe_is_read_from_the_composed_config():
    recipe = StepRecipe.of(compose_run([*TINY, "trainer.precision=bf16-mixed", "trainer.gradient_clip_val=null",
                                        "trainer.channels_last=false", "loss.label_smoothing=0.2"]))
    assert recipe == StepRecipe(0.2, 0.4, None, torch.bfloat16, torch.contiguous_format)
    assert StepRecipe.of(compose_run(TINY)) == StepRecipe(0.1, 0.4, 2.0, None, torch.channels_last)


def test_the_plain_loop_takes_the_lightning_step(tmp_path):
    """Two steps from the same seed: bitwise the same weights and EMA by hand and under a run's Trainer
    (clipping, the schedule's decay after step 1, the EMA included)."""
    cfg = compose_run(TINY)
    g = torch.Generator().manual_seed(1)
    batches = [(torch.randn(4, 1, 75, 75, generator=g), torch.randint(0, 10, (4,), generator=g)) for _ in range(2)]
    torch.manual_seed(0)
    loop = PlainLoop(cfg, 10, steps_per_epoch=2)
    for x, y in batches:
        loop.step(x, y)
    torch.manual_seed(0)
    module = build_module(cfg, build_network(cfg, 10))
    bench_trainer(cfg, StepTimer(torch.device("cpu"), 0, 2), tmp_path).fit(module, DataLoader(batches, batch_size=None))
    assert module.trainer.global_step == 2
    for mine, theirs in ((loop.model, module.model), (loop.ema.module, module.ema.module)):
        for (name, a), b in zip(mine.state_dict().items(), theirs.state_dict().values()):
            assert torch.equal(a, b), name


def test_trainer_compile_compiles_the_network_and_only_then():
    """A gpu-scale run compiles its network (torch.compile, lazily: nothing is traced until it steps)."""
    for compiled in (False, True):
        cfg = compose_run([*TINY, f"trainer.compile={compiled}"])
        module = build_module(cfg, build_network(cfg, 10))
        assert (module.model._compiled_call_impl is not None) == compiled
