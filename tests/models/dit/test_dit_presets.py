import pytest
import torch

from reducio.models.dit import DiTConfig, ReducioDiT, dit_parameter_count


def test_1_2b_preset_has_1_2b_parameters_on_meta():
    # Counted: the transformer with its patch/timestep/condition projections and null tokens;
    # not counted: the frozen T5 / OpenCLIP / SD-VAE encoders.
    count = dit_parameter_count(DiTConfig.preset("reducio-dit-1.2b"))
    assert abs(count - 1.2e9) / 1.2e9 < 0.05, count


def test_pixart_xl_preset_has_pixart_alpha_xl_block_shapes():
    with torch.device("meta"):
        model = ReducioDiT(DiTConfig.preset("reducio-dit-pixart-xl"))
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert len(model.blocks) == 28
    assert shapes["blocks.0.attn.to_q.weight"] == (1152, 1152)
    assert shapes["blocks.27.mlp.fc1.weight"] == (4608, 1152)
    assert shapes["text_proj.linear_1.weight"] == (1152, 4096)
    assert shapes["time_modulation.weight"] == (6 * 1152, 1152)
    # PixArt-alpha XL/2 is ~0.61B; ours adds the image projections and drops learned sigma.
    assert 0.55e9 < model.num_parameters() < 0.7e9


@pytest.mark.parametrize("name,limit", [("tiny", 10e6), ("small", 60e6)])
def test_small_presets_are_small(name, limit):
    assert dit_parameter_count(DiTConfig.preset(name)) < limit


def test_meta_count_equals_real_count():
    config = DiTConfig.preset("tiny")
    assert dit_parameter_count(config) == ReducioDiT(config).num_parameters()


def test_2d_plus_1d_adds_exactly_the_temporal_attention():
    config = DiTConfig.preset("tiny")
    d, depth = config.hidden_size, config.depth
    extra = dit_parameter_count(config.replace(attention="2d+1d")) - dit_parameter_count(config)
    assert extra == depth * 4 * (d * d + d)
