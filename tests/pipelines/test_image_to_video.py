"""ReducioImageToVideoPipeline on tiny random-weight components: outputs, determinism, guidance
wiring, callbacks and input checks. Most calls use output_type="latent": the DiT path is what is
under test there, and the tiny VAE's decode costs about a second."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers.utils.torch_utils import randn_tensor

from reducio.conditioning import PatchPixelSemanticEncoder, PooledRGBContentEncoder
from reducio.diffusion import combine_guidance, make_scheduler
from reducio.errors import ConfigError, PipelineInputError
from reducio.models.dit import DiTConfig, ReducioDiT
from reducio.pipelines import ReducioImageToVideoPipeline

PROMPT = "a red circle moving right on a black background"


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_output_types_shapes_and_agreement(pipe, image, tmp_path):
    out = pipe(image, PROMPT, generator=seeded(), output_type="pt")
    assert out.frames.shape == (1, 16, 3, 64, 64) and out.frames.dtype == torch.float32  # B T C H W
    assert out.frames.min() >= 0 and out.frames.max() <= 1
    assert out.latents.shape == (1, 16, 4, 2, 2)
    assert set(out.timings) == {"conditions", "denoise", "decode", "total"}
    assert out.timings["decode"] > 0 and out.timings["total"] >= out.timings["denoise"]
    assert torch.equal(out.content_frames, image)

    as_np = pipe(image, PROMPT, generator=seeded())  # "np" is the default, as in diffusers
    assert as_np.frames.shape == (1, 16, 64, 64, 3) and as_np.frames.dtype == np.float32
    expected = out.frames.permute(0, 1, 3, 4, 2).numpy()                          # B T H W C
    np.testing.assert_allclose(as_np.frames, expected, atol=1e-6)
    from diffusers.utils import export_to_video

    written = export_to_video(as_np.frames[0], str(tmp_path / "out.mp4"), fps=16)
    assert Path(written).stat().st_size > 0

    as_pil = pipe(image, PROMPT, generator=seeded(), output_type="pil")
    assert len(as_pil.frames) == 1 and len(as_pil.frames[0]) == 16
    assert as_pil.frames[0][7].size == (64, 64)
    pixels = np.asarray(as_pil.frames[0][7]).astype(np.float32)
    np.testing.assert_allclose(pixels, expected[0, 7] * 255, atol=1.0)

    latent = pipe(image, PROMPT, generator=seeded(), output_type="latent")
    assert latent.frames is latent.latents
    assert torch.equal(latent.latents, out.latents)
    assert latent.timings["decode"] == 0.0
    # decoding needs the content frame too, so "latent" returns it
    frames, content = pipe(image, PROMPT, generator=seeded(), output_type="latent", return_dict=False)
    assert torch.equal(frames, out.latents) and torch.equal(content, image)
    decoded = pipe.vae.decode(frames, content).sample                               # B 3 T H W
    torch.testing.assert_close((decoded.clamp(-1, 1) / 2 + 0.5).permute(0, 2, 1, 3, 4), out.frames,
                               atol=1e-5, rtol=0)


def test_seeded_generator_is_deterministic(pipe, image):
    a = pipe(image, PROMPT, generator=seeded(3), output_type="latent").latents
    b = pipe(image, PROMPT, generator=seeded(3), output_type="latent").latents
    c = pipe(image, PROMPT, generator=seeded(4), output_type="latent").latents
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_latents_argument_is_the_starting_noise(pipe, image):
    noise = randn_tensor((1, 16, 4, 2, 2), generator=seeded(5), dtype=torch.float32)
    from_noise = pipe(image, PROMPT, latents=noise, output_type="latent").latents
    from_seed = pipe(image, PROMPT, generator=seeded(5), output_type="latent").latents
    other = pipe(image, PROMPT, latents=noise.flip(1), output_type="latent").latents
    assert torch.equal(from_noise, from_seed)
    assert not torch.allclose(from_noise, other)


def _manual_loop(pipe, image, noise, steps, guided):
    """The sampling loop written out by hand with separate DiT passes."""
    scheduler = copy.deepcopy(pipe.scheduler)
    scheduler.set_timesteps(steps)
    tokens, mask, _, _ = pipe.encode_prompt(PROMPT)
    conditions = dict(text=tokens, text_mask=mask,
                      semantic=pipe.semantic_image_encoder().encode(image),
                      content=pipe.content_image_encoder().encode(image))
    latent = noise.clone()

    def dit(*args, **kwargs):
        return pipe.transformer(*args, **kwargs).sample

    for t in scheduler.timesteps:
        cond = dit(latent, t, **conditions)
        if guided:
            uncond_text = dit(latent, t, **conditions, drop_text=True)
            uncond = dit(latent, t, **conditions, drop_text=True, drop_image=True)
            cond = combine_guidance(cond, uncond_text=uncond_text, uncond=uncond,
                                    text_scale=3.0, image_scale=2.0)
        latent = scheduler.step(cond, t, latent).prev_sample
    return latent


@torch.no_grad()
def test_guidance_one_is_the_conditional_path(pipe, image):
    noise = randn_tensor((1, 16, 4, 2, 2), generator=seeded(7), dtype=torch.float32)
    out = pipe(image, PROMPT, latents=noise, num_inference_steps=3, guidance_scale=1.0,
               image_guidance_scale=1.0, output_type="latent", renormalize_latents=False)
    manual = _manual_loop(pipe, image, noise, 3, guided=False)
    torch.testing.assert_close(out.latents, manual, rtol=1e-5, atol=1e-5)

    guided = pipe(image, PROMPT, latents=noise, num_inference_steps=3, guidance_scale=3.0,
                  image_guidance_scale=2.0, output_type="latent", renormalize_latents=False)
    torch.testing.assert_close(guided.latents, _manual_loop(pipe, image, noise, 3, guided=True),
                               rtol=1e-4, atol=1e-5)
    assert not torch.allclose(guided.latents, out.latents)


def test_flow_objective_pipeline_runs(make_pipe, image):
    pipe = make_pipe("flow")
    a = pipe(image, PROMPT, generator=seeded(), num_inference_steps=2, output_type="latent")
    assert a.latents.shape == (1, 16, 4, 2, 2) and torch.isfinite(a.latents).all()


def test_final_latent_is_renormalised(pipe, image):
    out = pipe(image, PROMPT, generator=seeded(), output_type="latent")
    raw = pipe(image, PROMPT, generator=seeded(), output_type="latent", renormalize_latents=False)
    assert out.latents.mean().abs() < 1e-5
    assert abs(out.latents.std(unbiased=False).item() - 1.0) < 1e-3
    torch.testing.assert_close(out.latents, pipe.vae.normalize_latent(raw.latents))


def test_callback_runs_every_step_and_can_replace_latents(pipe, image):
    calls = []
    target = torch.full((1, 16, 4, 2, 2), 0.5)

    def callback(p, step, timestep, kwargs):
        assert p is pipe and set(kwargs) == {"latents"}
        calls.append((step, float(timestep), kwargs["latents"].shape))
        return {"latents": target.clone()} if step == 2 else kwargs

    out = pipe(image, PROMPT, generator=seeded(), num_inference_steps=3, output_type="latent",
               callback_on_step_end=callback, renormalize_latents=False)
    assert [c[0] for c in calls] == [0, 1, 2]
    assert [c[1] for c in calls] == [float(t) for t in pipe.scheduler.timesteps]
    assert torch.equal(out.latents, target)


def test_a_callback_that_breaks_the_latent_is_named_with_its_step(pipe, image):
    def callback(p, step, timestep, kwargs):
        return {"latents": kwargs["latents"] * float("nan")} if step == 1 else kwargs

    with pytest.raises(PipelineInputError, match="NaN or infinite at step 1 of 3"):
        pipe(image, PROMPT, generator=seeded(), num_inference_steps=3, output_type="latent",
             callback_on_step_end=callback)


def test_num_videos_per_prompt_and_prompt_batch(pipe, image):
    out = pipe(image, [PROMPT, "a blue square moving up on a white background"],
               generator=seeded(), num_videos_per_prompt=2, output_type="latent")
    assert out.latents.shape == (4, 16, 4, 2, 2)
    assert out.content_frames.shape == (4, 3, 64, 64)
    assert not torch.allclose(out.latents[0], out.latents[1])  # same prompt, other noise


def test_prompt_embeds_equal_prompt(pipe, image):
    tokens, mask, _, _ = pipe.encode_prompt(PROMPT)
    a = pipe(image, PROMPT, generator=seeded(), output_type="latent").latents
    b = pipe(image, prompt_embeds=tokens, prompt_attention_mask=mask, generator=seeded(),
             output_type="latent").latents
    assert torch.equal(a, b)


def test_image_forms_agree(pipe, image):
    from PIL import Image

    uint8 = ((image[0] + 1) * 127.5).round().to(torch.uint8)                  # 3 H W
    pil = Image.fromarray(uint8.permute(1, 2, 0).numpy())
    a = pipe(image[0], PROMPT, generator=seeded(), output_type="latent").latents
    b = pipe(pil, PROMPT, generator=seeded(), output_type="latent").latents
    torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3)  # 8-bit rounding of the image


@pytest.mark.parametrize("kwargs, image_size, words", [
    (dict(), (70, 64), ["`image`", "multiple of 32", "70x64", "--size"]),
    (dict(num_inference_steps=0), None, ["`num_inference_steps`", ">= 1", "0"]),
    (dict(output_type="mp4"), None, ["`output_type`", "'mp4'", "'pil'"]),
    (dict(prompt_embeds=torch.zeros(1, 64, 384)), None, ["`prompt`", "`prompt_embeds`", "both"]),
    (dict(prompt=None), None, ["`prompt`", "`prompt_embeds`", "neither"]),
    (dict(height=128), None, ["`height`", "128", "64x64"]),
    (dict(num_frames=20), None, ["`num_frames`", "20", "16", "24"]),
    (dict(guidance_scale=-1.0), None, ["`guidance_scale`", ">= 0", "-1.0"]),
    (dict(guidance_scale=float("nan")), None, ["`guidance_scale`", "finite", "nan"]),
    (dict(image_guidance_scale=float("inf")), None, ["`image_guidance_scale`", "finite", "inf"]),
    (dict(num_inference_steps=2.5), None, ["`num_inference_steps`", "integer", "2.5"]),
    (dict(num_frames=-16), None, ["`num_frames`", "-16"]),
    (dict(latents=torch.full((1, 16, 4, 2, 2), float("nan"))), None, ["`latents`", "NaN"]),
    (dict(callback_on_step_end_tensor_inputs=["noise"]), None,
     ["`callback_on_step_end_tensor_inputs`", "'noise'", "'latents'"]),
    (dict(num_videos_per_prompt=0), None, ["`num_videos_per_prompt`", "0"]),
    (dict(latents=torch.zeros(1, 16, 4, 4, 4)), None, ["`latents`", "(1, 16, 4, 2, 2)", "(1, 16, 4, 4, 4)"]),
    (dict(prompt=[PROMPT, PROMPT, PROMPT]), (64, 64, 2), ["`image`", "2 images", "3 prompt"]),
])
def test_check_inputs_names_the_argument(pipe, kwargs, image_size, words):
    if image_size is None:
        img = torch.zeros(1, 3, 64, 64)
    elif len(image_size) == 2:
        img = torch.zeros(1, 3, *image_size)
    else:
        img = torch.zeros(image_size[2], 3, *image_size[:2])
    call = dict(prompt=PROMPT, output_type="latent")
    call.update(kwargs)
    with pytest.raises(PipelineInputError) as error:
        pipe(img, **call)
    for word in words:
        assert word in str(error.value)


def test_float_image_outside_range_is_refused(pipe):
    with pytest.raises(PipelineInputError, match=r"\[-1, 1\].*x \* 2 - 1"):
        pipe(torch.full((1, 3, 64, 64), 200.0), PROMPT, output_type="latent")


def test_guidance_below_one_is_valid_and_turns_guidance_off(pipe, image):
    off = pipe(image, PROMPT, generator=seeded(), guidance_scale=0.5, output_type="latent").latents
    one = pipe(image, PROMPT, generator=seeded(), guidance_scale=1.0, output_type="latent").latents
    assert torch.isfinite(off).all() and off.shape == one.shape


def test_components_must_fit(vae, dit, text_encoder):
    from reducio.conditioning import PooledRGBContentEncoder
    from reducio.diffusion import make_scheduler

    with pytest.raises(ConfigError, match="semantic_encoder gives None but the transformer expects 192"):
        ReducioImageToVideoPipeline(vae, dit, make_scheduler(), text_encoder.model,
                                    text_encoder.tokenizer, None, PooledRGBContentEncoder())


def test_a_transformer_for_other_latents_is_refused(vae, text_encoder):
    """The DiT/VAE channel check is models.compatibility's, named in the pipeline's message."""
    other = ReducioDiT(DiTConfig.preset("tiny").replace(in_channels=vae.latent_channels + 4))
    with pytest.raises(ConfigError, match=rf"takes {vae.latent_channels + 4}-channel latents but the VAE "
                                          rf"\(the pipeline's vae\) makes {vae.latent_channels}-channel"):
        ReducioImageToVideoPipeline(vae, other, make_scheduler(), text_encoder.model, text_encoder.tokenizer,
                                    PatchPixelSemanticEncoder(), PooledRGBContentEncoder())
