"""Cheap VBench-style temporal dimensions that need no downloaded model.

All take clips `B 3 T H W` (or `3 T H W`) in [-1, 1], read as 8-bit frames (mapped to 0..255 and
rounded, as VBench reads a saved video), and return one score per clip in [0, 1] (VBench reports
these x 100).

- `temporal_flickering`: VBench's formula exactly. Feature: the mean absolute difference of
  consecutive frames over all pixels and channels (0..255); score (255 - mean) / 255. VBench applies
  it to videos of static prompts; on moving content the score also drops with motion.
- `motion_smoothness`: VBench keeps the even frames, re-creates the odd ones with a learned frame
  interpolator (AMT) and scores (255 - MAE(real odd, interpolated)) / 255. Here the default
  interpolator is the mean of the two neighbouring even frames (no motion compensation), so the
  score is lower than VBench's for smooth but fast motion; pass `interpolate=` to use a learned one.
  Numbers are comparable between runs of this implementation, not with VBench tables.
- `dynamic_degree`: needs an optical-flow estimator (VBench uses RAFT). None is bundled, so
  without `flow=` it raises MetricUnavailableError instead of returning a made-up number. With
  one, it is VBench's rule: per consecutive pair, the mean of the top 5 % flow magnitudes; a clip is
  dynamic when at least round(4 * T / 16) pairs (all but the last two are checked) exceed
  6 * min(H, W) / 256 pixels.
"""

from __future__ import annotations

from typing import Callable

import torch

from reducio.errors import ReducioError
from reducio.eval.reconstruction import as_video_batch

Interpolator = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
FlowEstimator = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class MetricUnavailableError(ReducioError):
    """A metric needs a model (optical flow, interpolator, weights) that was not provided."""


def to_pixels(video: torch.Tensor, quantize: bool = True) -> torch.Tensor:
    """`B 3 T H W` in [-1, 1] -> float pixels 0..255 (rounded like an 8-bit video when quantize)."""
    pixels = (as_video_batch(video).float().clamp(-1, 1) + 1) * 127.5
    return pixels.round() if quantize else pixels


def temporal_flickering(video: torch.Tensor, quantize: bool = True) -> torch.Tensor:
    """(255 - mean |frame[t+1] - frame[t]|) / 255 per clip -> `B`."""
    pixels = to_pixels(video, quantize)
    if pixels.shape[2] < 2:
        raise MetricUnavailableError(f"temporal flickering needs at least 2 frames, got {pixels.shape[2]}")
    mae = (pixels[:, :, 1:] - pixels[:, :, :-1]).abs().mean(dim=(1, 2, 3, 4))  # B
    return (255.0 - mae) / 255.0


def average_interpolator(previous: torch.Tensor, following: torch.Tensor) -> torch.Tensor:
    """Frame half-way between two frames as their pixel mean (no motion compensation)."""
    return (previous + following) / 2


def motion_smoothness(
    video: torch.Tensor, interpolate: Interpolator = average_interpolator, quantize: bool = True
) -> torch.Tensor:
    """(255 - MAE(odd frames, interpolated from even neighbours)) / 255 per clip -> `B`.

    Args:
        interpolate: maps two `B 3 H W` frames (0..255) to the frame between them.
    """
    pixels = to_pixels(video, quantize)
    frames = pixels.shape[2]
    odd = list(range(1, frames - 1, 2))  # odd frames that have an even frame on both sides
    if not odd:
        raise MetricUnavailableError(f"motion smoothness needs at least 3 frames, got {frames}")
    errors = []
    for t in odd:
        predicted = interpolate(pixels[:, :, t - 1], pixels[:, :, t + 1])
        if quantize:
            predicted = predicted.clamp(0, 255).round()
        errors.append((predicted - pixels[:, :, t]).abs().mean(dim=(1, 2, 3)))  # B
    return (255.0 - torch.stack(errors, dim=1).mean(dim=1)) / 255.0


def _top_flow_magnitude(flow: torch.Tensor) -> float:
    """Mean of the largest 5 % flow magnitudes of a `2 H W` flow field (VBench's per-pair score)."""
    magnitude = flow.float().pow(2).sum(dim=0).sqrt().flatten()
    count = int(magnitude.numel() * 0.05)
    if count == 0:
        return 0.0
    return float(magnitude.topk(count).values.mean())


def _check_move(scores: list[float], threshold: float, needed: int) -> bool:
    # VBench's loop, kept literally: the last two pairs are never counted, and the test runs after
    # each pair (so needed = 0 is met by any clip with at least one counted pair).
    count = 0
    for score in scores[:-2]:
        if score > threshold:
            count += 1
        if count >= needed:
            return True
    return False


def dynamic_degree(video: torch.Tensor, flow: FlowEstimator | None = None, stride: int = 1) -> torch.Tensor:
    """Whether each clip is dynamic (1.0) or static (0.0), VBench's rule -> `B`.

    Args:
        flow: maps two frames `3 H W` (0..255) to a flow field `2 H W` in pixels, e.g. a RAFT
            wrapper. Required: there is no built-in estimator.
        stride: keep every stride-th frame first (VBench samples about 8 fps: round(fps / 8)).
    """
    if flow is None:
        raise MetricUnavailableError(
            "dynamic degree needs an optical-flow estimator (VBench uses RAFT) and none is bundled; "
            "pass flow=callable(frame_a, frame_b) -> (2, H, W) flow in pixels, or leave the "
            "dimension out of the report"
        )
    pixels = to_pixels(video)[:, :, ::stride]
    _, _, frames, height, width = pixels.shape
    threshold = 6.0 * min(height, width) / 256.0
    needed = round(4 * frames / 16.0)
    verdicts = []
    for clip in pixels:
        scores = [_top_flow_magnitude(flow(clip[:, t], clip[:, t + 1])) for t in range(frames - 1)]
        verdicts.append(float(_check_move(scores, threshold, needed)))
    return torch.tensor(verdicts)
