"""Cheap VBench-style temporal dimensions on hand-built clips."""

from __future__ import annotations

import pytest
import torch

from reducio.eval.temporal import MetricUnavailableError, dynamic_degree, motion_smoothness, temporal_flickering


def _from_pixels(pixels: torch.Tensor) -> torch.Tensor:
    """0..255 values -> [-1, 1]."""
    return pixels / 127.5 - 1


def test_flickering_is_one_for_a_static_clip_and_follows_the_mean_difference():
    static = torch.rand(3, 1, 16, 16).expand(3, 8, 16, 16) * 2 - 1
    assert float(temporal_flickering(static)[0]) == pytest.approx(1.0)
    # Frames alternate between 100 and 140: every consecutive difference is 40.
    values = torch.tensor([100.0, 140.0] * 4).view(1, 8, 1, 1).expand(3, 8, 4, 4)
    assert float(temporal_flickering(_from_pixels(values))[0]) == pytest.approx((255 - 40) / 255)


def test_motion_smoothness_is_exact_for_linear_change_and_low_for_flicker():
    ramp = (torch.arange(9.0) * 10 + 20).view(1, 9, 1, 1).expand(3, 9, 8, 8)  # linear in time
    assert float(motion_smoothness(_from_pixels(ramp))[0]) == pytest.approx(1.0)
    flicker = torch.tensor([0.0, 200.0] * 4 + [0.0]).view(1, 9, 1, 1).expand(3, 9, 8, 8)
    assert float(motion_smoothness(_from_pixels(flicker))[0]) == pytest.approx((255 - 200) / 255)
    batch = torch.stack([_from_pixels(ramp), _from_pixels(flicker)])
    assert motion_smoothness(batch).shape == (2,)


def test_motion_smoothness_takes_another_interpolator():
    # Each odd frame repeats the frame before it: "copy the previous frame" is exact there.
    g = torch.Generator().manual_seed(0)
    distinct = (torch.rand(1, 3, 4, 8, 8, generator=g) * 255).round()
    clip = _from_pixels(distinct.repeat_interleave(2, dim=2)[:, :, :7])  # frames 0 0 1 1 2 2 3
    assert float(motion_smoothness(clip, interpolate=lambda previous, following: previous)[0]) == 1.0
    assert float(motion_smoothness(clip)[0]) < 0.95


def test_dynamic_degree_needs_a_flow_estimator():
    clip = torch.zeros(3, 16, 32, 32)
    with pytest.raises(MetricUnavailableError, match="optical-flow"):
        dynamic_degree(clip)


def test_dynamic_degree_with_a_given_flow():
    clip = torch.zeros(2, 3, 16, 256, 256)

    def constant_flow(magnitude):
        return lambda a, b: torch.full((2, a.shape[-2], a.shape[-1]), magnitude / 2**0.5)

    # Threshold at 256 px: 6 pixels.
    assert dynamic_degree(clip, constant_flow(7.0)).tolist() == [1.0, 1.0]
    assert dynamic_degree(clip, constant_flow(5.0)).tolist() == [0.0, 0.0]


def test_too_few_frames():
    with pytest.raises(MetricUnavailableError):
        temporal_flickering(torch.zeros(3, 1, 8, 8))
    with pytest.raises(MetricUnavailableError):
        motion_smoothness(torch.zeros(3, 2, 8, 8))
