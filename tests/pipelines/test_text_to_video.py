"""ReducioTextToVideoPipeline: stage 1 makes the content frame, the video stage animates it."""

from __future__ import annotations

import copy

import pytest
import torch

from reducio.errors import PipelineInputError
from reducio.pipelines import ReducioImageToVideoPipeline, ReducioTextToVideoPipeline

PROMPT = "a red circle moving right on a black background"


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_stage1_image_is_the_content_frame(t2v, stage1):
    out = t2v(PROMPT, generator=seeded(), stage1_num_inference_steps=2, output_type="pt")
    assert out.frames.shape == (1, 16, 3, 64, 64)
    assert out.content_frames.shape == (1, 3, 64, 64)
    assert list(out.timings) == ["text_to_image", "conditions", "denoise", "decode", "total"]
    assert out.timings["text_to_image"] > 0
    # the same generator state drives stage 1 first, so the training-form generator with the same
    # weights reproduces the image
    image = stage1(PROMPT, generator=seeded(), num_inference_steps=2)
    assert torch.equal(out.content_frames, image)


def _noise(out):
    """The video stage's starting noise of a seeded call (drawn after stage 1's)."""
    from diffusers.utils.torch_utils import randn_tensor

    g = seeded()
    randn_tensor((1, 3, 1, 64, 64), generator=g)  # stage 1's draw
    return randn_tensor(tuple(out.latents.shape), generator=g)


def test_video_stage_animates_the_stage1_image(t2v):
    out = t2v(PROMPT, generator=seeded(), stage1_num_inference_steps=2, output_type="latent")
    i2v = ReducioImageToVideoPipeline.from_pipe(t2v)
    i2v.set_progress_bar_config(disable=True)
    direct = i2v(out.content_frames, PROMPT, latents=_noise(out), output_type="latent")
    assert torch.equal(out.latents, direct.latents)


def test_one_image_per_video(t2v):
    out = t2v([PROMPT, "a green triangle moving down on a gray background"],
              stage1_num_inference_steps=1, generator=seeded(), num_videos_per_prompt=2,
              output_type="latent")
    assert out.content_frames.shape == (4, 3, 64, 64) and out.latents.shape[0] == 4
    assert not torch.equal(out.content_frames[0], out.content_frames[1])


@pytest.mark.parametrize("kwargs, words", [
    (dict(height=48, width=64), ["`height`", "multiple of 32", "48"]),
    (dict(stage1_num_inference_steps=0), ["`stage1_num_inference_steps`", ">= 1", "0"]),
    (dict(stage1_guidance_scale=float("nan")), ["`stage1_guidance_scale`", "finite", "nan"]),
    (dict(stage1_guidance_scale=-2), ["`stage1_guidance_scale`", ">= 0", "-2"]),
    (dict(num_candidates=0), ["`num_candidates`", ">= 1", "0"]),
    (dict(num_candidates=2), ["`num_candidates` 2", "reranker"]),
    (dict(prompt=None), ["`prompt`", "required"]),
])
def test_inputs_are_checked_before_stage1(t2v, kwargs, words):
    call = dict(prompt=PROMPT)
    call.update(kwargs)
    with pytest.raises(PipelineInputError) as error:
        t2v(**call)
    for word in words:
        assert word in str(error.value)


def test_num_candidates_reranks_with_the_image_reranker(pipe, stage1):
    from reducio.models.frame_text_matcher import FrameTextMatcher
    from reducio.pipelines.text_to_video import stage1_components

    reranked = copy.deepcopy(stage1)
    torch.manual_seed(0)
    reranked.attach_reranker(FrameTextMatcher(384, dim=16, width=8).eval(), num_candidates=1)
    t2v = ReducioTextToVideoPipeline(**pipe.components, **stage1_components(reranked), **{
        k: pipe.config[k] for k in ("diffusion_config", "semantic_encoder_config",
                                    "content_encoder_config", "default_num_inference_steps")})
    t2v.set_progress_bar_config(disable=True)
    out = t2v(PROMPT, generator=seeded(), stage1_num_inference_steps=2, num_candidates=3,
              output_type="latent")
    assert torch.equal(out.content_frames,
                       reranked(PROMPT, generator=seeded(), num_inference_steps=2, num_candidates=3))
