"""Which source frames make up a clip at a target frame rate.

Two rules, both streaming (they see decoded frames in order and never hold more than two):

- ``"nearest"`` (default): the clip's k-th frame is shown at time ``start + k / fps``; it is the
  source frame whose timestamp is nearest to that time (ties go to the earlier frame). This uses
  real timestamps, so variable-frame-rate files, GIFs with uneven delays and non-integer rate
  ratios (25 -> 16 fps) all land on the right content and the clip's duration is kept.
- ``"stride"``: the release's "proportional" sampling (docs/architecture.md §4.4): every
  ``round(src_fps / fps)``-th source frame from the first frame at or after ``start``. 30 and
  24 fps both give stride 2, so the clip plays at 15 or 12 fps of real time; use it to match the
  official training data exactly.

A target time is inside the video while it is before the end of the last frame's display
interval (its timestamp plus one frame duration); a clip that needs more raises ``ClipTooShort``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from reducio.errors import VideoInputError

SAMPLING_MODES = ("nearest", "stride")

# Timestamps come from integer pts times a rational time base; 1 microsecond absorbs the float error.
_TIMESTAMP_ROUNDING = 1e-3  # seconds: the coarsest common container time base (1/1000)
_EPS = 1e-6


class ClipTooShort(Exception):
    """Internal: the stream ended before the clip was complete (converted to VideoReadError)."""

    def __init__(self, got: int, last_time: float | None):
        super().__init__(got)
        self.got = got
        self.last_time = last_time


def check_mode(sampling: str) -> str:
    if sampling not in SAMPLING_MODES:
        raise VideoInputError(f"sampling must be one of {', '.join(SAMPLING_MODES)}, got {sampling!r}")
    return sampling


def stride_for(src_fps: float, fps: float | None) -> int:
    """The release's interval: round(src_fps / fps), at least 1 (30 -> 2, 24 -> 2, 60 -> 4 at 16 fps)."""
    if fps is None or src_fps <= 0:
        return 1
    return max(1, round(src_fps / fps))


def select_frames(
    frames: Iterable[tuple[float, Any]],
    *,
    src_fps: float,
    num_frames: int | None,
    fps: float | None,
    start: float = 0.0,
    sampling: str = "nearest",
) -> Iterator[Any]:
    """Yield the payloads of the chosen frames, in clip order (a frame may repeat when upsampling).

    Args:
        frames: (time in seconds, payload) in decode order.
        src_fps: the stream's average rate, used for the frame duration and the stride.
        num_frames: clip length; None = until the stream ends.
        fps: target rate; None = every source frame from `start`.
    Raises:
        ClipTooShort: fewer than `num_frames` frames could be chosen.
    """
    frame_duration = 1.0 / src_fps if src_fps > 0 else 0.0
    if fps is None or sampling == "stride":
        chosen = _by_stride(frames, stride_for(src_fps, fps), start, frame_duration)
    else:
        chosen = _by_nearest(frames, fps, start, frame_duration)
    got = 0
    last_time = None
    for time, payload in itertools.islice(chosen, num_frames):
        got += 1
        last_time = time
        yield payload
    if num_frames is not None and got < num_frames:
        raise ClipTooShort(got, last_time)


def _by_stride(frames, stride: int, start: float, frame_duration: float):
    # The first frame whose display interval reaches `start` (its time within half a frame of it).
    kept = 0
    for time, payload in frames:
        if kept == 0 and time < start - frame_duration / 2 - _EPS:
            continue
        if kept % stride == 0:
            yield time, payload
        kept += 1


def _by_nearest(frames, fps: float, start: float, frame_duration: float):
    k = 0
    previous = None  # (time, payload)
    for time, payload in frames:
        while True:
            target = start + k / fps
            if target > time + _EPS:
                break
            if previous is not None and target - previous[0] <= time - target + _EPS:
                yield target, previous[1]
            else:
                yield target, payload
            k += 1
        previous = (time, payload)
    if previous is None:
        return
    # After the last frame: it stays on screen for one frame duration. Containers with millisecond
    # timestamps (Matroska, WebM) round the last frame's time up by as much as 1 ms, which would
    # otherwise let a target at the very end of the clip (a 17th frame of a 1 s, 16 fps clip) in.
    end = previous[0] + max(frame_duration, _EPS)
    while True:
        target = start + k / fps
        if target >= end - _TIMESTAMP_ROUNDING:
            return
        yield target, previous[1]
        k += 1
