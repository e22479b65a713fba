"""Clips longer than one window: generate window by window, each conditioned on a frame the
previous window already produced.

Reducio-VAE and Reducio-DiT work on W-frame windows (W = 16) whose content frame is the middle
one, c = `ReducioVAE.content_frame_index(W)` = 7 (docs/architecture.md §1). To extend a clip, the next
window is placed so that *its* content frame is the *last* frame of the previous window:

    window k covers global frames [k * s, k * s + W),  stride s = W - 1 - c = 8
    its content frame is global k * s + c = (k - 1) * s + W - 1   (the previous window's frame 15)
    consecutive windows overlap by W - s = c + 1 = 8 frames: the new window's local frames 0..7
    are the previous window's frames 8..15, and local frame 7 is exactly the frame it copies.

So with W = 16: window 0 = frames 0..15 (content 7, the user's image), window 1 = 8..23
(content 15), window 2 = 16..31 (content 23), ...; num_frames = 16 + 8 k, e.g. 48 -> 5 windows.

Overlapping frames: we keep the previous window's frames and append the new window's local
frames c + 1 .. W - 1 (8..15). Why not take the new ones or blend:
- The new window sees the previous clip only through one still frame (its content frame). Its
  frames before the content frame are a guess at a past it never saw (a constant-velocity object's
  speed is not in a still frame), so they need not agree with frames the previous window
  generated with full knowledge of that past. Taking them would put a seam between the previous
  window's frame 7 and the new frame 0, where the two windows share nothing.
- Keeping the previous frames puts the seam at the content frame itself: the new window's frame 7
  reproduces it (the VAE rebuilds its content frame almost exactly), so its frame 8 continues from
  the same picture the viewer just saw.
- Blending the 8 overlapping frames mixes two motion hypotheses; when they disagree (an object at
  two positions) a cross-fade shows both, ghosting that is worse than a cut in flat scenes.

Drift: each window's content frame is a *generated and decoded* frame, so colour shifts, blur and
shape errors compound from window to window (48 frames = 4 generations deep). Nothing here
corrects it; the text condition is the same for every window and pulls colours and shapes back
toward the prompt, but position and small errors accumulate: expect the first window to look
best.

Starting the clip at the image (`first_frame`): the plan may drop the frames of window 0 before
a given global frame. With first_frame = c the clip begins AT window 0's content frame, so the
user's image is the clip's frame 0 and the clip only moves forward from it:

    clip frame i = global frame c + i; window 0 gives clip frames 0..8 (its local 7..15), then
    window k >= 1 gives 8 new frames, its content frame being clip frame 8 (k - 1) + 8 = 8 k.

A clip of num_frames = 16 + 8 k frames then needs global frames up to c + num_frames - 1, i.e.
one window more than the same length with the image in the middle (16 frames: 2 windows, the
second one's last frame unused). The windows, their noise and their conditioning are exactly
those of a (num_frames + 8)-frame clip with the image in the middle; only the stitching differs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from reducio.errors import PipelineInputError


def window_stride(window: int, content_index: int) -> int:
    """Frames between consecutive window starts: W - 1 - c (8 for W = 16, c = 7), so that each
    window's content frame is the previous window's last frame."""
    return window - 1 - content_index


def padded_length(num_frames: int, window: int, content_index: int) -> int:
    """The shortest valid clip length (W + s k) holding `num_frames` frames."""
    stride = window_stride(window, content_index)
    return window + max(0, -(-(num_frames - window) // stride)) * stride


@dataclass(frozen=True)
class WindowPlan:
    """Where each window of a long clip lies and which frames it contributes.

    Global frame indices count from window 0's first frame; the clip is global frames
    first_frame .. first_frame + num_frames - 1 (first_frame 0: the image is the clip's frame c;
    first_frame c: it is the clip's frame 0).
    """

    num_frames: int
    window: int
    content_index: int
    first_frame: int = 0

    @property
    def stride(self) -> int:
        """Frames between consecutive window starts (`window_stride`)."""
        return window_stride(self.window, self.content_index)

    @property
    def overlap(self) -> int:
        """Frames shared by consecutive windows: c + 1 (8 for W = 16)."""
        return self.window - self.stride

    @property
    def num_windows(self) -> int:
        """Windows needed to reach the clip's last frame (global first_frame + num_frames - 1)."""
        beyond = self.first_frame + self.num_frames - self.window    # frames past window 0
        return 1 + max(-(-beyond // self.stride), 0)

    def start(self, k: int) -> int:
        """Global index of window k's first frame."""
        return k * self.stride

    def content_frame(self, k: int) -> int:
        """Global index of window k's content frame (for k >= 1: the previous window's last frame)."""
        return self.start(k) + self.content_index

    def kept(self, k: int) -> range:
        """Local frames of window k that go into the clip: all of window 0, then c + 1 .. W - 1,
        less those before global frame first_frame or after the clip's last frame."""
        first = 0 if k == 0 else self.content_index + 1
        lo = max(first, self.first_frame - self.start(k))
        hi = min(self.window, self.first_frame + self.num_frames - self.start(k))
        return range(lo, max(lo, hi))


def plan_windows(num_frames: int, window: int, content_index: int, *,
                 first_frame: int = 0) -> WindowPlan:
    """The window layout of a `num_frames` clip; PipelineInputError names the valid lengths.

    first_frame: the global frame that becomes the clip's frame 0, 0 .. content_index (0: the
    clip starts with window 0; content_index: the clip starts at window 0's content frame).
    """
    stride = window_stride(window, content_index)
    if stride < 1:
        raise PipelineInputError(f"cannot extend windows of {window} frames whose content frame is "
                                 f"{content_index}: the next window would add no frame")
    if not isinstance(num_frames, int) or num_frames < window or (num_frames - window) % stride:
        lower = window + max((num_frames - window) // stride, 0) * stride if isinstance(num_frames, int) else window
        valid = ", ".join(str(window + k * stride) for k in range(4))
        raise PipelineInputError(
            f"`num_frames` must be {window} + {stride} k ({valid}, ...): one {window}-frame window, "
            f"then {stride} new frames per extra window (docs/generate.md, 'Long clips'); got "
            f"{num_frames!r}; use {lower} or {lower + stride}")
    if isinstance(first_frame, bool) or not isinstance(first_frame, int) \
            or not 0 <= first_frame <= content_index:
        raise PipelineInputError(f"`first_frame` must be an integer in 0 .. {content_index} (the "
                                 f"content frame of window 0), got {first_frame!r}")
    return WindowPlan(num_frames=num_frames, window=window, content_index=content_index,
                      first_frame=first_frame)


def stitch_windows(windows: list[torch.Tensor], plan: WindowPlan) -> torch.Tensor:
    """Per-window videos (B, 3, W, H, W') -> the clip (B, 3, num_frames, H, W')."""
    if len(windows) != plan.num_windows:
        raise ValueError(f"expected {plan.num_windows} windows, got {len(windows)}")
    parts = [video[:, :, plan.kept(k).start:plan.kept(k).stop] for k, video in enumerate(windows)]
    clip = torch.cat(parts, dim=2)
    assert clip.shape[2] == plan.num_frames  # follows from plan_windows' arithmetic
    return clip


__all__ = ["WindowPlan", "plan_windows", "stitch_windows"]
