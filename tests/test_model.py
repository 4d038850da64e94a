"""The network: torchvision equivalence, sizes, costs (§9 Table 2), every ablation variant, bad configs."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.models import inception_v3

from inception_repro.ablations import ablation_names, load_ablation
from inception_repro.config import compose_run
from inception_repro.errors import ConfigError
from inception_repro.models import InceptionConfig, InceptionOutputs, build_model
from inception_repro.models.config import MAX_WIDTH
from inception_repro.models.costs import count_macs, count_params
from inception_repro.models.geometry import grids, min_input_size
from inception_repro.models.torchvision_compat import from_torchvision_state_dict

PAPER_MACS_299 = 5.713e9  # torchvision's published GFLOPS for Inception3 (5.71, its weights documentation)


@pytest.fixture(scope="module")
def tv_and_ours():
    torch.manual_seed(0)
    tv = inception_v3(weights=None, aux_logits=True, init_weights=True, dropout=0.2)
    for module in tv.modules():  # non-trivial running statistics so eval mode tests them too
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    ours = build_model()
    ours.load_state_dict(from_torchvision_state_dict(tv.state_dict()), strict=True)
    return tv, ours


def test_torchvision_weights_give_the_same_logits_in_eval(tv_and_ours):
    tv, ours = tv_and_ours
    x = torch.randn(2, 3, 299, 299)
    with torch.no_grad():
        expected, got = tv.eval()(x), ours.eval()(x)
    assert got.shape == (2, 1000)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_torchvision_weights_give_the_same_main_and_aux_logits_in_train(tv_and_ours):
    tv, ours = tv_and_ours
    x = torch.randn(2, 3, 299, 299)
    torch.manual_seed(1)
    expected = tv.train()(x)
    torch.manual_seed(1)  # same dropout mask
    got = ours.train()(x)
    assert isinstance(got, InceptionOutputs)
    torch.testing.assert_close(got.logits, expected.logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(got.aux_logits, expected.aux_logits, atol=1e-5, rtol=0)


@pytest.mark.parametrize(("aux", "params"), [("none", 23_834_568), ("bn", 27_161_264)])
def test_parameter_counts_match_torchvision(aux, params):
    assert count_params(build_model(aux=aux)) == params


def test_costs_at_the_three_table2_resolutions():
    macs = {r: count_macs(build_model(resolution=r, aux="none")) for r in (299, 151, 79)}
    print(f"\nmultiply-adds per eval forward: 299: {macs[299]:.4e}, 151: {macs[151]:.4e}, 79: {macs[79]:.4e}")
    assert abs(macs[299] / PAPER_MACS_299 - 1) < 0.01
    assert abs(macs[151] / macs[299] - 1) < 0.01
    assert 0.90 <= macs[79] / macs[299] < 1.0  # "slightly cheaper" (§9)


def test_table2_stems_reach_the_paper_grids():
    assert grids(299, 299) == (35, 17, 8)
    assert grids(151, 151) == (35, 17, 8)
    assert grids(79, 79)[1:] == (17, 8) and grids(79, 79).g35 in (35, 36)


def _ablation_variants():
    return [(name, variant) for name in ablation_names() for variant in load_ablation(name).variants]


@pytest.mark.parametrize(("ablation", "variant"), _ablation_variants())
def test_every_ablation_variant_trains_at_quarter_width(ablation, variant):
    """Forward + backward at width 0.25 at the paper's input sizes (aux at 79 and 151 included)."""
    cfg = compose_run([f"ablation={ablation}", f"variant={variant}", "scale=paper", "model.width=0.25"])
    model = build_model(InceptionConfig.from_dict({**cfg.model, "num_classes": 10}))
    x = torch.randn(2, 3, cfg.model.input_size, cfg.model.input_size)
    out = model.train()(x)
    logits, aux = (out.logits, out.aux_logits) if isinstance(out, InceptionOutputs) else (out, None)
    assert logits.shape == (2, 10)
    assert (aux is None) == (cfg.model.aux == "none")
    loss = logits.square().mean() + (aux.square().mean() if aux is not None else 0)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("resolution", [151, 79])
def test_aux_head_runs_in_training_at_small_inputs(resolution):
    out = build_model(resolution=resolution, width=0.25, num_classes=10).train()(torch.randn(2, 3, resolution, resolution))
    assert out.aux_logits.shape == (2, 10)


def test_aux_head_runs_below_the_17x17_grid():
    cfg = InceptionConfig(input_size=99, width=0.25, num_classes=10, in_chans=1)
    assert grids(cfg.resolution, cfg.pixels).g17 < 17
    out = build_model(cfg).train()(torch.randn(2, 1, 99, 99))
    assert out.aux_logits.shape == (2, 10)


@pytest.mark.parametrize(
    ("field", "value"),
    [("aux", "deep"), ("stem", "5x5"), ("resolution", 224), ("grid_reduction", "strided"), ("factorized_activation", "tanh")],
)
def test_unknown_value_names_the_valid_choices(field, value):
    with pytest.raises(ConfigError, match="choose one of") as info:
        InceptionConfig(**{field: value})
    assert f"model.{field}" in str(info.value)


@pytest.mark.parametrize("resolution", [299, 151, 79])
def test_too_small_input_names_the_minimum(resolution):
    minimum = min_input_size(resolution)
    InceptionConfig(resolution=resolution, input_size=minimum)
    with pytest.raises(ConfigError, match=f"minimum is {minimum} px"):
        InceptionConfig(resolution=resolution, input_size=minimum - 1)


def test_minimum_matches_torchvision_at_299():
    assert min_input_size(299) == 75  # torchvision rejects smaller inputs for its stem


@pytest.mark.parametrize("width", [0, -0.5])
def test_non_positive_width_is_rejected(width):
    with pytest.raises(ConfigError, match="width"):
        InceptionConfig(width=width)


def test_unknown_model_key_names_the_valid_keys():
    with pytest.raises(ConfigError, match="valid keys"):
        InceptionConfig.from_dict({"depth": 3})


def _module_grids(model, pixels: int, in_chans: int = 1) -> dict[str, tuple[int, ...]]:
    """Sides of the maps a real training forward feeds each stage and the aux head's layers."""
    seen: dict[str, tuple[int, ...]] = {}
    stages = {"grid35": model.grid35, "grid17": model.grid17, "grid8": model.grid8,
              "aux_in": model.aux_head, "aux_pooled": model.aux_head.conv0}

    def record(name):
        def hook(_, args) -> None:
            seen[name] = tuple(args[0].shape[-2:])
        return hook

    hooks = [m.register_forward_pre_hook(record(name)) for name, m in stages.items()]
    model.train()(torch.randn(2, in_chans, pixels, pixels))
    for hook in hooks:
        hook.remove()
    return seen


def test_light_stem_gives_the_paper_grids_at_35_px():
    cfg = InceptionConfig(stem="light", input_size=35, width=0.0625, num_classes=10, in_chans=1)
    model = build_model(cfg)
    seen = _module_grids(model, 35)
    assert [seen[s][0] for s in ("grid35", "grid17", "grid8")] == cfg.grid_sizes == [35, 17, 8]
    assert seen["aux_in"] == (17, 17) and seen["aux_pooled"] == (5, 5)  # avg-pool 5/3 as in the paper
    assert [type(m).__name__ for m in model.stem] == ["ConvBN"] and model.stem[0].conv.stride == (1, 1)


@pytest.mark.parametrize(("stem", "resolution", "pixels"), [("v3", 299, 75), ("7x7", 151, 39), ("v3", 79, 21), ("light", 299, 12)])
def test_grid_sizes_are_the_grids_the_network_runs_on(stem, resolution, pixels):
    cfg = InceptionConfig(stem=stem, resolution=resolution, input_size=pixels, width=0.0625, num_classes=10, in_chans=1)
    seen = _module_grids(build_model(cfg), pixels)
    assert cfg.grid_sizes == [seen[s][0] for s in ("grid35", "grid17", "grid8")]


def test_light_stem_has_no_table2_variants():
    with pytest.raises(ConfigError, match="model.stem=light has no Table 2 variant"):
        InceptionConfig(stem="light", resolution=79, input_size=35)
    with pytest.raises(ConfigError, match="too small for the light stem: the minimum is 7 px"):
        InceptionConfig(stem="light", input_size=6)


def _stem_conv_widths(cfg: InceptionConfig) -> list[int]:
    return [m.out_channels for m in build_model(cfg).stem.modules() if isinstance(m, torch.nn.Conv2d)]


@pytest.mark.parametrize("stem, floor", [("v3", 4), ("7x7", 8)])  # narrowest at width 1/16: 32/16 = 2, 64/16 = 4
def test_the_stem_floor_keeps_every_stem_convolution_at_least_that_wide(stem, floor):
    base = dict(stem=stem, resolution=299, input_size=155, width=0.0625, num_classes=10, in_chans=1)
    bare, floored = InceptionConfig(**base), InceptionConfig(**base, stem_min_channels=floor)
    assert min(_stem_conv_widths(bare)) < floor
    assert min(_stem_conv_widths(floored)) == floor
    assert [max(floor, w) for w in _stem_conv_widths(bare)] == _stem_conv_widths(floored)
    assert build_model(floored)(torch.zeros(2, 1, 155, 155)).logits.shape == (2, 10)


def test_the_stem_floor_leaves_the_paper_network_and_the_light_stem_alone():
    paper = InceptionConfig()
    assert _stem_conv_widths(InceptionConfig(stem_min_channels=16)) == _stem_conv_widths(paper)
    light = dict(stem="light", input_size=25, width=0.0625, num_classes=10, in_chans=1)
    assert _stem_conv_widths(InceptionConfig(**light, stem_min_channels=4)) == _stem_conv_widths(InceptionConfig(**light))


def test_the_cpu_scale_floors_its_stems_and_a_floor_below_one_is_rejected():
    assert compose_run(["scale=cpu"]).model.stem_min_channels == 4
    with pytest.raises(ConfigError, match="model.stem_min_channels=0 must be >= 1"):
        InceptionConfig(stem_min_channels=0)


@pytest.mark.parametrize("stem", ["light", "v3"])
def test_every_accepted_width_builds_and_runs_forward_and_backward(stem):
    """Widths whose rounded channel counts differ between the 17x17 modules (0.05, 0.3, 0.7, ...) once
    crashed at the first forward pass: each module takes the width its predecessor gives out. Up to
    the widest accepted (MAX_WIDTH), and no wider."""
    pixels = 25 if stem == "light" else min_input_size(299, "v3")
    for width in (0.001, 0.03, 0.05, 0.0625, 0.2, 0.3, 0.45, 0.55, 0.7, 0.8, 0.95, 1.3, 1.55, MAX_WIDTH):
        model = build_model(stem=stem, input_size=pixels, width=width, num_classes=10, in_chans=1).train()
        out = model(torch.randn(2, 1, pixels, pixels))
        (out.logits.sum() + out.aux_logits.sum()).backward()
        assert out.logits.shape == (2, 10), width
    for width in (MAX_WIDTH * 1.01, math.inf, math.nan, -math.inf):
        with pytest.raises(ConfigError, match=f"model.width={width} must be a finite number in \\(0, 2\\]"):
            build_model(stem=stem, input_size=pixels, width=width)


def _saved_values(cfg: InceptionConfig) -> float:
    """The values one training image keeps for the backward pass, counted on the meta device (no memory, no compute)."""
    with torch.device("meta"):
        model = build_model(cfg).train()
        images = torch.zeros(2, cfg.in_chans, cfg.pixels, cfg.pixels)
    saved: dict[int, int] = {}

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        saved[id(tensor)] = tensor.numel()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        model(images)
    return sum(saved.values()) / 2


@pytest.mark.parametrize(("stem", "resolution", "sizes"), [
    ("light", 299, (7, 25, 140)), ("v3", 299, (75, 299, 1196)), ("7x7", 299, (75, 299, 1196)),
    ("v3", 151, (39, 151, 604)), ("7x7", 79, (21, 79, 316)),
])
def test_saved_values_is_a_lower_bound_of_the_activations_kept(stem, resolution, sizes):
    """What refuses a model.input_size whose batch cannot fit (schema.py) never overstates the memory;
    at 4x the paper's size (large inputs: what it refuses) it is within a factor 2 of the count."""
    for pixels in sizes:
        for width in (0.001, 0.0625, 1.0, MAX_WIDTH):
            cfg = InceptionConfig(stem=stem, resolution=resolution, input_size=pixels, width=width, num_classes=10, in_chans=1)
            counted = _saved_values(cfg)
            assert cfg.saved_values <= counted, (pixels, width)
            if pixels == sizes[-1] and width >= 1:
                assert cfg.saved_values > counted / 2, (pixels, width)
