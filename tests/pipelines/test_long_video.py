"""Long clips: the window layout (pure index arithmetic) and a 48-frame generation."""

from __future__ import annotations

import pytest
import torch

from reducio.errors import PipelineInputError
from reducio.pipelines import plan_windows, stitch_windows
from reducio.pipelines.long_video import padded_length, window_stride

PROMPT = "a red circle moving right on a black background"


def test_window_layout_for_48_frames():
    plan = plan_windows(48, window=16, content_index=7)
    assert (plan.stride, plan.overlap, plan.num_windows) == (8, 8, 5)
    assert [plan.start(k) for k in range(5)] == [0, 8, 16, 24, 32]
    assert [plan.content_frame(k) for k in range(5)] == [7, 15, 23, 31, 39]
    for k in range(1, 5):
        # the new window's content frame (its local frame 7) is the previous window's frame 15
        assert plan.content_frame(k) == plan.start(k - 1) + 15
        assert plan.start(k) + 7 == plan.start(k - 1) + 15
    assert list(plan.kept(0)) == list(range(16))
    assert list(plan.kept(3)) == list(range(8, 16))


def test_stitch_keeps_each_global_frame_once():
    plan = plan_windows(48, window=16, content_index=7)
    # window k, local frame j carries its global index start(k) + j
    windows = [(plan.start(k) + torch.arange(16.0)).view(1, 1, 16, 1, 1) for k in range(5)]
    clip = stitch_windows(windows, plan)
    assert clip.shape == (1, 1, 48, 1, 1)
    assert torch.equal(clip.flatten(), torch.arange(48.0))


@pytest.mark.parametrize("frames", [8, 20, 50])
def test_invalid_lengths_name_valid_ones(frames):
    with pytest.raises(PipelineInputError, match=r"`num_frames` must be 16 \+ 8 k .*got " + str(frames)):
        plan_windows(frames, window=16, content_index=7)


def test_48_frames_are_generated_window_by_window(pipe, image):
    seen = []
    content_encoder = pipe.content_image_encoder()
    encode = content_encoder.encode

    def spy(img, **kwargs):
        seen.append(img.clone())
        return encode(img, **kwargs)

    content_encoder.encode = spy
    windows = []
    out = pipe(image, PROMPT, generator=torch.Generator().manual_seed(0), num_frames=48,
               num_inference_steps=1, output_type="pt",
               callback_on_step_end=lambda p, i, t, kw: windows.append(p.current_window) or kw)
    assert out.frames.shape == (1, 48, 3, 64, 64)                                  # B T C H W
    assert out.latents.shape == (1, 16, 20, 2, 2)  # 5 windows x 4 latent frames
    assert windows == [0, 1, 2, 3, 4]
    assert len(seen) == 5
    assert torch.equal(seen[0], image)
    for k in range(1, 5):
        # window k was conditioned on frame 8k + 7 of the final clip (previous window's frame 15)
        torch.testing.assert_close(seen[k], out.frames[:, 8 * k + 7] * 2 - 1, atol=1e-6, rtol=0)


def test_a_clip_is_padded_to_the_next_valid_length():
    """Window starts 8 apart for 16-frame windows whose content frame is 7: lengths 16 + 8 k."""
    assert window_stride(16, 7) == 8
    assert [padded_length(n, 16, 7) for n in (1, 16, 17, 24, 25, 40)] == [16, 16, 24, 24, 32, 40]
    assert window_stride(8, 3) == 4 and padded_length(13, 8, 3) == 16
