"""ReducioMotionTransferPipeline: A's motion around B; A's own frame gives A's reconstruction."""

import pytest
import torch

from reducio.data.synthetic.world import make_clip
from reducio.errors import PipelineInputError
from reducio.pipelines.edit import ReducioEditPipeline
from reducio.pipelines.transfer import ReducioMotionTransferPipeline


def clip(index: int, frames: int = 16) -> torch.Tensor:
    pixels = make_clip(index, "test", size=64, frames=frames).video
    return torch.from_numpy(pixels).permute(3, 0, 1, 2).float()[None] / 127.5 - 1.0   # 1 3 T H W


@pytest.fixture
def pipe(vae) -> ReducioMotionTransferPipeline:
    pipe = ReducioMotionTransferPipeline(vae=vae)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_own_content_frame_reproduces_the_reconstruction(pipe, vae):
    a = clip(0)
    with torch.no_grad():
        reference = vae(a).sample.clamp(-1, 1)
    out = pipe(a, a[:, :, 7])
    assert torch.equal(out.frames, pipe.video_processor.postprocess_video(reference, output_type="pt"))


def test_another_frame_keeps_the_motion_latent_of_a(pipe, vae):
    a, b = clip(0), clip(1)
    out = pipe(a, b[:, :, 7])
    own = pipe(a, a[:, :, 7])
    assert torch.equal(out.latents, own.latents)
    assert torch.equal(out.content_frames, b[:, :, 7])
    assert not torch.equal(out.frames, own.frames)
    with torch.no_grad():
        expected = vae.decode(own.latents, b[:, :, 7]).sample.clamp(-1, 1)
    assert torch.equal(out.frames, pipe.video_processor.postprocess_video(expected, output_type="pt"))


def test_long_clips_match_the_edit_pipeline(pipe, vae):
    a, b = clip(0, frames=24), clip(1)
    edit = ReducioEditPipeline(vae=vae)
    edit.set_progress_bar_config(disable=True)
    assert torch.equal(pipe(a, b[:, :, 7]).frames, edit(a, b[:, :, 7]).frames)


def test_errors_name_the_transfer_arguments(pipe):
    a = clip(0)
    with pytest.raises(PipelineInputError, match="`content_image` is required"):
        pipe(a)
    with pytest.raises(PipelineInputError, match="`content_image` is 64x96"):
        pipe(a, torch.zeros(3, 64, 96))
    with pytest.raises(PipelineInputError, match="`motion_video` frames are 60x64.*crop to 32x64 or resize to 64x64"):
        pipe(a[:, :, :, :60], a[:, :, 7])


def test_shares_the_vae_with_an_edit_pipeline(vae):
    edit = ReducioEditPipeline(vae=vae)
    transfer = ReducioMotionTransferPipeline.from_pipe(edit)
    assert transfer.vae is vae
