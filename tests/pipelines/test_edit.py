"""ReducioEditPipeline: an unchanged frame is the plain reconstruction, bit for bit; edits flow
window by window on long clips; inputs are checked with errors that name the argument."""

import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from reducio.data.synthetic.world import make_clip
from reducio.errors import PipelineInputError
from reducio.pipelines.edit import ReducioEditPipeline


def clip(frames: int = 16, index: int = 0) -> torch.Tensor:
    """World clip `index` of the test split: (1, 3, frames, 64, 64) in [-1, 1]."""
    pixels = make_clip(index, "test", size=64, frames=frames).video
    return torch.from_numpy(pixels).permute(3, 0, 1, 2).float()[None] / 127.5 - 1.0


def as_pt(pipe, video: torch.Tensor) -> torch.Tensor:
    """A (B, 3, T, H, W) clip as the pipeline's "pt" frames (B, T, 3, H, W) in [0, 1]."""
    return pipe.video_processor.postprocess_video(video.clamp(-1.0, 1.0), output_type="pt")


@pytest.fixture
def pipe(vae) -> ReducioEditPipeline:
    pipe = ReducioEditPipeline(vae=vae)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_unchanged_frame_is_the_plain_reconstruction_bit_for_bit(pipe, vae):
    video = clip()
    with torch.no_grad():
        reference = vae(video).sample                                                  # B 3 T H W
        latent = vae.normalize_latent(vae.encode(video).latent_dist.mode())
    edited = pipe(video, pipe.content_frame(video))
    plain = pipe(video)
    assert edited.frames.shape == (1, 16, 3, 64, 64)
    assert torch.equal(edited.frames, as_pt(pipe, reference))
    assert torch.equal(plain.frames, edited.frames)
    assert torch.equal(edited.latents, latent)
    assert torch.equal(edited.content_frames, video[:, :, 7])


def test_edit_decodes_the_same_motion_around_the_new_frame(pipe, vae):
    video = clip()
    frame = pipe.content_frame(video)
    frame[:, 0] = frame[:, 0].flip(-1)                                                 # an edit
    out = pipe(video, frame)
    with torch.no_grad():
        latent = vae.normalize_latent(vae.encode(video).latent_dist.mode())
        expected = vae.decode(latent, frame).sample
    assert torch.equal(out.frames, as_pt(pipe, expected))
    assert torch.equal(out.latents, latent)  # the motion is the source clip's
    assert torch.equal(out.content_frames, frame)
    assert not torch.equal(out.frames, pipe(video).frames)


def test_long_clip_chains_windows_around_produced_frames(pipe, vae, monkeypatch):
    video = clip(frames=32)
    frame = pipe.content_frame(video).flip(-2)
    seen = []
    decode = vae.decode

    def recording(latent, content, *args, **kwargs):
        seen.append(content.clone())
        return decode(latent, content, *args, **kwargs)

    monkeypatch.setattr(vae, "decode", recording)
    out = pipe(video, frame, output_type="pt")
    assert out.frames.shape == (1, 32, 3, 64, 64)
    assert out.latents.shape == (1, 16, 12, 2, 2)  # windows at 0, 8, 16: 3 x 4 latent frames
    assert len(seen) == 3 and torch.equal(seen[0], frame)
    # windows 1 and 2 are decoded around frames 15 and 23 as the previous window made them
    pt = out.frames[0].permute(1, 0, 2, 3) * 2 - 1                                     # 3 T H W
    assert torch.allclose(seen[1][0], pt[:, 15], atol=1e-6)
    assert torch.allclose(seen[2][0], pt[:, 23], atol=1e-6)
    # each window's motion is encoded from the source frames [8k, 8k + 16)
    with torch.no_grad():
        window1 = vae.normalize_latent(vae.encode(video[:, :, 8:24]).latent_dist.mode())
    assert torch.equal(out.latents[:, :, 4:8], window1)


def test_long_clip_unchanged_frame_is_the_chained_reconstruction(pipe):
    video = clip(frames=32)
    plain = pipe(video)
    assert torch.equal(pipe(video, pipe.content_frame(video)).frames, plain.frames)
    # the first window is the one-window reconstruction
    assert torch.equal(plain.frames[:, :16], pipe(video[:, :, :16]).frames)


def test_other_lengths_are_padded_and_cut(pipe, caplog):
    video = clip(frames=20)
    with caplog.at_level(logging.INFO, logger="reducio.pipelines.edit"):
        out = pipe(video)
    assert out.frames.shape[1] == 20
    assert out.latents.shape[2] == 8  # padded to 24 frames: 2 windows
    assert "padded to 24" in caplog.text
    assert torch.equal(out.frames[:, :16], pipe(video[:, :, :16]).frames)


def test_frame_of_same_aspect_is_resized_with_a_warning(pipe, caplog):
    video = clip()
    big = F.interpolate(pipe.content_frame(video), size=(128, 128), mode="bilinear")
    with caplog.at_level(logging.WARNING, logger="reducio.pipelines.edit"):
        out = pipe(video, big)
    assert "128x128" in caplog.text and "resized to 64x64" in caplog.text
    small = F.interpolate(big, size=(64, 64), mode="bilinear", antialias=True, align_corners=False).clamp(-1, 1)
    assert torch.equal(out.frames, pipe(video, small).frames)


def test_frame_of_another_aspect_is_refused_with_the_size_to_use(pipe):
    video = clip()
    with pytest.raises(PipelineInputError, match=r"`image` is 64x128 .*64x64.*centre-crop yours to 64x64"):
        pipe(video, torch.zeros(1, 3, 64, 128))


def test_accepted_inputs_and_output_types(pipe):
    video = clip()
    frame = pipe.content_frame(video)
    reference = pipe(video, frame).frames
    assert torch.equal(pipe(video[0], frame[0]).frames, reference)  # unbatched (3, T, H, W) and (3, H, W)
    pil = Image.fromarray(((frame[0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy())
    assert pipe(video, pil).frames.shape == reference.shape
    np_frames = pipe(video, frame, output_type="np").frames
    assert isinstance(np_frames, np.ndarray) and np_frames.shape == (1, 16, 64, 64, 3)
    assert len(pipe(video, frame, output_type="pil").frames[0]) == 16
    latents, content = pipe(video, frame, output_type="latent", return_dict=False)
    assert latents.shape == (1, 16, 4, 2, 2) and torch.equal(content, frame)
    (frames,) = pipe(video, frame, return_dict=False)
    assert torch.equal(frames, reference)


def test_batches_take_one_frame_or_one_per_clip(pipe):
    video = torch.cat([clip(index=0), clip(index=1)])
    frames = torch.stack([pipe.content_frame(video[i:i + 1])[0] for i in range(2)])
    out = pipe(video, frames)
    assert out.frames.shape == (2, 16, 3, 64, 64)
    assert torch.allclose(out.frames[1], pipe(video[1:], frames[1:]).frames[0], atol=1e-5)
    assert pipe(video, frames[:1]).frames.shape == (2, 16, 3, 64, 64)
    with pytest.raises(PipelineInputError, match="`image` holds 3 frames for 2 clip"):
        pipe(video, torch.zeros(3, 3, 64, 64))


@pytest.mark.parametrize("video, message", [
    (np.zeros((3, 16, 64, 64), np.float32), "`video` must be a float tensor"),
    (torch.zeros(1, 16, 3, 64, 64), r"`video` must be \(B, 3, T, H, W\)"),
    (torch.zeros(1, 3, 16, 64, 64, dtype=torch.uint8), "x / 127.5 - 1"),
    (torch.full((1, 3, 16, 64, 64), 2.0), r"must lie in \[-1, 1\]"),
    (torch.zeros(1, 3, 5, 64, 64), "at least 8"),
    (torch.zeros(1, 3, 16, 60, 64), "multiples of 32"),
])
def test_bad_videos_are_named(pipe, video, message):
    with pytest.raises(PipelineInputError, match=message):
        pipe(video)


def test_bad_output_type_is_named(pipe):
    with pytest.raises(PipelineInputError, match="`output_type`"):
        pipe(clip(), output_type="mp4")


def test_save_and_load(pipe, tmp_path):
    video = clip()
    pipe.save_pretrained(tmp_path / "pipe")
    loaded = ReducioEditPipeline.from_pretrained(tmp_path / "pipe")
    loaded.set_progress_bar_config(disable=True)
    assert torch.equal(loaded(video).frames, pipe(video).frames)
    pipe.vae.save_pretrained(tmp_path / "vae")  # a VAE folder is enough
    from_vae = ReducioEditPipeline.from_pretrained(tmp_path / "vae")
    from_vae.set_progress_bar_config(disable=True)
    assert torch.equal(from_vae(video).frames, pipe(video).frames)


def test_builtin_vae_by_name():
    pipe = ReducioEditPipeline.from_pretrained("tiny")
    assert pipe.vae.num_frames == 16 and pipe.content_index == 7
