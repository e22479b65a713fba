"""Rasterising a shapes-world scene: filled shapes on a flat background, antialiased by 4x4
supersampling inside each object's window (vectorised over frames with numpy).

Pixel (row i, column j) covers the square [j, j+1) x [i, i+1) of continuous image coordinates;
an object's centre, size and speed are in those units. Coverage is the fraction of the 16
sub-samples (at (j + (m + 0.5) / 4, ...)) that fall inside the shape, so interior pixels are the
exact vocabulary colour and edge pixels blend colour and whatever lies beneath.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import numpy as np
from einops import rearrange

from reducio.data.synthetic.vocab import BACKGROUNDS, COLOURS

if TYPE_CHECKING:
    from reducio.data.synthetic.world import ObjectGeometry, ShapesScene

SUPERSAMPLE = 4


def coverage(obj: ObjectGeometry, frames: int | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame coverage of one object inside an n x n pixel window.

    `frames`: a frame count (frames 0 .. frames-1) or an array of frame indices.

    Returns:
        cover: float32 (T, n, n) in [0, 1].
        top, left: int (T,) window origin per frame (>= 0, as the object stays inside the frame).
    """
    k = SUPERSAMPLE
    half = obj.size / 2
    t = np.arange(frames, dtype=np.float64) if np.ndim(frames) == 0 else np.asarray(frames, dtype=np.float64)
    dx, dy = obj.unit_vector
    cx = obj.start_x + dx * obj.speed * t  # T
    cy = obj.start_y + dy * obj.speed * t  # T
    n = int(math.ceil(obj.size)) + 2
    # Clamped at 0: an object touching the edge may sit a rounding error outside it.
    left = np.maximum(np.floor(cx - half), 0).astype(np.int64)
    top = np.maximum(np.floor(cy - half), 0).astype(np.int64)
    sub = (np.arange(n * k, dtype=np.float64) + 0.5) / k  # n*k sub-sample offsets
    xs = left[:, None] + sub[None, :] - cx[:, None]  # T nk, relative to the centre
    ys = top[:, None] + sub[None, :] - cy[:, None]  # T nk
    if obj.shape == "circle":
        inside = xs[:, None, :] ** 2 + ys[:, :, None] ** 2 <= half * half  # T nk nk
    elif obj.shape == "square":
        inside = (np.abs(xs) <= half)[:, None, :] & (np.abs(ys) <= half)[:, :, None]
    elif obj.shape == "triangle":
        # Apex at (0, -half), base on y = +half from x = -half to +half: the half-width at a
        # depth d below the apex is d / 2 (base = height = size).
        inside = (ys <= half)[:, :, None] & (np.abs(xs)[:, None, :] <= (ys[:, :, None] + half) / 2)
    else:
        raise ValueError(f"unknown shape {obj.shape!r}")
    cover = rearrange(inside.astype(np.float32), "t (h a) (w b) -> t h w (a b)", a=k, b=k).mean(-1)
    return cover, top, left


def render(scene: ShapesScene, frames: Sequence[int] | None = None) -> np.ndarray:
    """The clip's pixels: uint8 (T, S, S, 3); objects drawn in order (the second on top).

    `frames`: indices of the frames to draw (default: all `scene.frames`); each drawn frame is
    identical to the same frame of the full render (e.g. only the content frame for stage 1).
    """
    size = scene.size
    if frames is None:
        indices = np.arange(scene.frames)
    else:
        indices = np.asarray(frames, dtype=np.int64).reshape(-1)
        if indices.size and (indices.min() < 0 or indices.max() >= scene.frames):
            raise ValueError(f"frame indices must be in [0, {scene.frames}), got {indices.tolist()}")
    windows = [coverage(obj, indices) for obj in scene.objects]
    frames = len(indices)
    # Windows may reach one pixel past the frame edge (n = ceil(size) + 2): pad, draw, crop.
    pad = max((w[0].shape[1] for w in windows), default=0)
    canvas = np.empty((frames, size + pad, size + pad, 3), dtype=np.float32)  # T H W 3
    canvas[:] = np.asarray(BACKGROUNDS[scene.background], dtype=np.float32)
    for obj, (cover, top, left) in zip(scene.objects, windows):
        colour = np.asarray(COLOURS[obj.colour], dtype=np.float32)
        n = cover.shape[1]
        for i in range(frames):
            region = canvas[i, top[i] : top[i] + n, left[i] : left[i] + n]
            region += cover[i, :, :, None] * (colour - region)
    return np.rint(canvas[:, :size, :size]).astype(np.uint8)
