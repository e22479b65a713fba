"""ReducioTextToVideoPipeline: stage 1 makes the content frame, stage 2 animates it."""

from __future__ import annotations

import pytest
import torch

from reducio.errors import ModelNotFoundError, PipelineInputError
from reducio.pipelines import DiffusersImageGenerator

PROMPT = "a red circle moving right on a black background"


def test_stage1_image_is_the_content_frame(t2v):
    out = t2v(PROMPT, generator=torch.Generator().manual_seed(0), stage1_steps=2)
    assert out.frames.shape == (1, 3, 16, 64, 64)
    assert out.images.shape == (1, 3, 64, 64)
    assert list(out.timings) == ["text_to_image", "conditions", "denoise", "decode", "total"]
    assert out.timings["text_to_image"] > 0
    # the same generator state drives stage 1 first, so a bare stage-1 call reproduces the image
    image = t2v.stage1(PROMPT, generator=torch.Generator().manual_seed(0), num_inference_steps=2)
    assert torch.equal(out.images, image)


def _noise(t2v, out):
    """The stage-2 starting noise of a seeded text-to-video call (drawn after stage 1's)."""
    from diffusers.utils.torch_utils import randn_tensor

    g = torch.Generator().manual_seed(0)
    randn_tensor((1, 3, 1, 64, 64), generator=g)  # stage 1's draw
    return randn_tensor(tuple(out.latents.shape), generator=g)


def test_stage2_animates_the_stage1_image(t2v):
    out = t2v(PROMPT, generator=torch.Generator().manual_seed(0), stage1_steps=2, output_type="latent")
    direct = t2v.image_pipeline(out.images, PROMPT, latents=_noise(t2v, out), output_type="latent")
    assert torch.equal(out.latents, direct.latents)


def test_one_image_per_video(t2v):
    out = t2v([PROMPT, "a green triangle moving down on a gray background"], stage1_steps=1,
              generator=torch.Generator().manual_seed(0), num_videos_per_prompt=2,
              output_type="latent")
    assert out.images.shape == (4, 3, 64, 64) and out.latents.shape[0] == 4
    assert not torch.equal(out.images[0], out.images[1])


def test_size_is_checked_before_stage1(t2v):
    with pytest.raises(PipelineInputError, match="`height` must be a positive multiple of 32.*got 48"):
        t2v(PROMPT, height=48, width=64)


def test_stage1_candidates_reach_the_reranking_stage1(pipe, stage1):
    import copy

    from reducio.models.frame_text_matcher import FrameTextMatcher
    from reducio.pipelines import ReducioTextToVideoPipeline

    reranked = copy.deepcopy(stage1)
    torch.manual_seed(0)
    reranked.attach_reranker(FrameTextMatcher(384, dim=16, width=8).eval(), num_candidates=1)
    t2v = ReducioTextToVideoPipeline(pipe, reranked)
    t2v.set_progress_bar_config(disable=True)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    out = t2v(PROMPT, generator=g(), stage1_steps=2, stage1_candidates=3, output_type="latent")
    assert torch.equal(out.images, reranked(PROMPT, generator=g(), num_inference_steps=2, num_candidates=3))
    with pytest.raises(PipelineInputError, match="`num_candidates` 2 needs a reranker"):
        ReducioTextToVideoPipeline(pipe, stage1)(PROMPT, stage1_steps=1, stage1_candidates=2)
    diffusers_t2v = ReducioTextToVideoPipeline(pipe, DiffusersImageGenerator(FakeDiffusersPipeline(), "org/m"))
    with pytest.raises(PipelineInputError, match="`stage1_candidates` 2 needs the built-in stage-1 generator"):
        diffusers_t2v(PROMPT, stage1_candidates=2)


class FakeDiffusersPipeline:
    """Stands in for a diffusers text-to-image pipeline: records the call, returns [0, 1] images."""

    def __init__(self):
        self.calls = []

    def set_progress_bar_config(self, **kwargs):
        pass

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        n = len(kwargs["prompt"])
        images = torch.linspace(0, 1, 3 * 64 * 32).view(1, 3, 64, 32).repeat(n, 1, 1, 1)
        return type("Out", (), {"images": images})()


def test_diffusers_adapter_converts_range_and_forwards_arguments():
    fake = FakeDiffusersPipeline()
    generator = DiffusersImageGenerator(fake, "org/model")
    images = generator(PROMPT, num_inference_steps=7, guidance_scale=2.0, height=64, width=32)
    assert images.shape == (1, 3, 64, 32)
    assert images.min() == -1 and images.max() == 1
    call = fake.calls[0]
    assert call["prompt"] == [PROMPT] and call["output_type"] == "pt"
    assert (call["num_inference_steps"], call["guidance_scale"], call["height"]) == (7, 2.0, 64)
    assert "negative_prompt" not in call  # None arguments keep the pipeline's defaults
    assert generator.reference() == {"class": "DiffusersImageGenerator", "path_or_id": "org/model"}


def test_diffusers_stage1_offline_error_says_how_to_fix():
    with pytest.raises(ModelNotFoundError) as error:
        DiffusersImageGenerator.from_pretrained("reducio-tests/no-such-model", local_files_only=True)
    message = str(error.value)
    assert "reducio-tests/no-such-model" in message and "hf download" in message
