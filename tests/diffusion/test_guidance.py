import sys
from pathlib import Path

import pytest
import torch

from reducio.diffusion import combine_guidance, guided_prediction, sample_condition_drop
from reducio.errors import PipelineInputError
from reducio.models.dit import ReducioDiT

sys.path.insert(0, str(Path(__file__).parents[1] / "models" / "dit"))
from dit_helpers import make_inputs, randomize, tiny_config  # noqa: E402


def test_scales_of_one_return_the_conditional_prediction_bit_for_bit():
    g = torch.Generator().manual_seed(0)
    cond, un_t, un = (torch.randn(2, 16, 4, 2, 2, generator=g) * 1e3 for _ in range(3))
    assert torch.equal(combine_guidance(cond, uncond_text=un_t, uncond=un), cond)


def test_combination_equals_the_textbook_form():
    g = torch.Generator().manual_seed(0)
    cond, un_t, un = (torch.randn(2, 8, generator=g) for _ in range(3))
    out = combine_guidance(cond, uncond_text=un_t, uncond=un, text_scale=4.5, image_scale=1.5)
    torch.testing.assert_close(out, un + 1.5 * (un_t - un) + 4.5 * (cond - un_t))
    text_only = combine_guidance(cond, uncond_text=un_t, text_scale=7.0)
    torch.testing.assert_close(text_only, un_t + 7.0 * (cond - un_t))
    with pytest.raises(PipelineInputError, match="needs uncond_text"):
        combine_guidance(cond, text_scale=2.0)
    with pytest.raises(PipelineInputError, match="image guidance"):
        combine_guidance(cond, uncond_text=un_t, image_scale=2.0)


@pytest.fixture(scope="module")
def model_and_inputs():
    torch.set_num_threads(1)
    config = tiny_config()
    model = randomize(ReducioDiT(config)).eval()
    inputs = make_inputs(config)
    return model, inputs.pop("latent"), inputs.pop("timestep"), inputs


def test_guidance_one_is_the_plain_conditional_call(model_and_inputs):
    model, latent, t, conditions = model_and_inputs
    with torch.no_grad():
        assert torch.equal(guided_prediction(model, latent, t, **conditions),
                           model(latent, t, **conditions).sample)


@pytest.mark.parametrize("text_scale, image_scale", [(0.0, 1.0), (0.5, 0.0), (1.0, 0.3)])
def test_guidance_below_one_is_off(model_and_inputs, text_scale, image_scale):
    """A scale at or below 1 turns that guidance off (diffusers' convention): one conditional pass."""
    model, latent, t, conditions = model_and_inputs
    with torch.no_grad():
        assert torch.equal(guided_prediction(model, latent, t, text_scale=text_scale, image_scale=image_scale,
                                             **conditions),
                           model(latent, t, **conditions).sample)


def test_guided_prediction_batches_the_passes(model_and_inputs):
    model, latent, t, conditions = model_and_inputs
    with torch.no_grad():
        out = guided_prediction(model, latent, t, text_scale=5.0, image_scale=2.0, **conditions)
        cond = model(latent, t, **conditions).sample
        un_t = model(latent, t, **conditions, drop_text=True).sample
        un = model(latent, t, **conditions, drop_text=True, drop_image=True).sample
    expected = un + 2.0 * (un_t - un) + 5.0 * (cond - un_t)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)


def test_negative_prompt_replaces_the_null_text(model_and_inputs):
    model, latent, t, conditions = model_and_inputs
    negative = torch.randn_like(conditions["text"])
    mask = torch.ones_like(conditions["text_mask"])
    with torch.no_grad():
        out = guided_prediction(model, latent, t, text_scale=3.0, negative_text=negative,
                                negative_text_mask=mask, **conditions)
        cond = model(latent, t, **conditions).sample
        neg = model(latent, t, **{**conditions, "text": negative, "text_mask": mask}).sample
    torch.testing.assert_close(out, neg + 3.0 * (cond - neg), rtol=1e-4, atol=1e-5)
    with pytest.raises(PipelineInputError, match="negative_text must have"):
        guided_prediction(model, latent, t, text_scale=3.0, negative_text=negative[:, :2],
                          **conditions)
    with pytest.raises(PipelineInputError, match="sets drop_text itself"):
        guided_prediction(model, latent, t, text_scale=3.0, drop_text=True, **conditions)


def test_condition_drop_rates_and_seed():
    a = sample_condition_drop(20000, 0.1, 0.3, generator=torch.Generator().manual_seed(0))
    b = sample_condition_drop(20000, 0.1, 0.3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].dtype == torch.bool
    assert a[0].float().mean() == pytest.approx(0.1, abs=0.01)
    assert a[1].float().mean() == pytest.approx(0.3, abs=0.015)
    assert not torch.equal(a[0], a[1][:20000])
