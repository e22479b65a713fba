"""Clips outside the shapes world's vocabulary, for training a VAE that copies what it is shown.

A VAE trained on the world alone learns the world's statistics as well as its pixels: no training
clip holds a square on white (the held-out rule, docs/synthetic-world.md), and the tiny VAE
rounds such squares into circles. These clips widen what the decoder sees without ever drawing a
held-out object, or any object the world's captions could name:

- shapes: bars and ellipses (long side 1.5-3x the short one, so never a square or a circle),
  triangles pointing down, left or right (never the world's upward triangle) and plus signs;
- colours: any RGB; an object is redrawn when its colour is within `NEAR` of purple and it is a
  triangle, or within `NEAR` of orange and it moves with any upward component;
- backgrounds: one of the world's three half the time, else any RGB;
- 1-3 objects, each moving in a straight line (8 directions) at the world's speeds, fully inside
  the frame for the whole clip, drawn in order with 4 x 4 supersampled edges.

Deterministic from a seed: `numpy.random.default_rng(seed)` is the only source of randomness.
Each clip has a caption in the world's sentence form, with words the world does not use for its
shapes ("a pink bar moving down and right on a white background"): colours and backgrounds are
named by the nearest colour of `COLOUR_NAMES`. `data.outside_vocabulary_share` of `reducio train
vae` and `reducio train stage1` mixes them into training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from einops import rearrange
from torch.utils.data import Dataset

from reducio.data.synthetic.render import SUPERSAMPLE
from reducio.data.synthetic.vocab import BACKGROUNDS, COLOURS
from reducio.data.synthetic.world import SPEED_RANGE, ShapesDataset, seed_for
from reducio.errors import ConfigError

OUTSIDE_SHAPES = ("bar", "ellipse", "triangle_down", "triangle_left", "triangle_right", "plus")
NEAR = 60.0            # RGB distance under which a colour counts as a vocabulary colour
MIN_CONTRAST = 60.0    # RGB distance an object keeps from the background
ASPECT_RANGE = (1.5, 3.0)
LONG_SIDE_RANGE = (0.18, 0.40)   # fraction of the frame side
# (dx, dy) per frame direction; y grows downwards.
DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1))
SHAPE_WORDS = {"bar": "bar", "ellipse": "ellipse", "triangle_down": "triangle pointing down",
               "triangle_left": "triangle pointing left", "triangle_right": "triangle pointing right",
               "plus": "plus sign"}
# Names for captions: the world's colours and backgrounds, and a few more.
COLOUR_NAMES = {**COLOURS, **BACKGROUNDS, "pink": (250, 160, 200), "brown": (130, 80, 40),
                "cyan": (40, 210, 230), "teal": (20, 130, 130), "lime": (170, 240, 60),
                "navy": (20, 30, 110), "maroon": (120, 20, 40), "olive": (120, 120, 30),
                "beige": (225, 205, 160), "magenta": (230, 40, 200), "light gray": (200, 200, 200),
                "dark gray": (60, 60, 60)}


@dataclass(frozen=True)
class OutsideObject:
    shape: str
    colour: tuple[float, float, float]
    half_w: float            # half extents of the bounding box, pixels
    half_h: float
    start_x: float
    start_y: float
    velocity: tuple[float, float]   # pixels per frame


@dataclass(frozen=True)
class OutsideScene:
    background: tuple[float, float, float]
    objects: tuple[OutsideObject, ...]
    size: int
    frames: int


def sample_outside_scene(seed: int | list[int], size: int = 64, frames: int = 16) -> OutsideScene:
    """The background and objects of one clip outside the world's vocabulary, fixed by `seed`."""
    rng = np.random.default_rng(seed)
    background = _background(rng)
    objects = tuple(_object(rng, background, size, frames) for _ in range(int(rng.integers(1, 4))))
    return OutsideScene(background=tuple(float(c) for c in background), objects=objects, size=size, frames=frames)


def render_outside(scene: OutsideScene) -> np.ndarray:
    """uint8 (T, S, S, 3): the scene's objects drawn in order over its background."""
    canvas = np.empty((scene.frames, scene.size, scene.size, 3), dtype=np.float32)   # T H W 3
    canvas[:] = np.asarray(scene.background, dtype=np.float32)
    for obj in scene.objects:
        colour = np.asarray(obj.colour, dtype=np.float32)
        for t in range(scene.frames):
            cover = _coverage(obj, t, scene.size)                                     # H W in [0, 1]
            canvas[t] += cover[:, :, None] * (colour - canvas[t])
    return np.rint(canvas).astype(np.uint8)


def colour_name(rgb, exclude: tuple[str, ...] = ()) -> str:
    """The name in `COLOUR_NAMES` (less `exclude`) nearest to an RGB triple."""
    rgb = np.asarray(rgb, dtype=np.float64)
    names = [name for name in COLOUR_NAMES if name not in exclude]
    return min(names, key=lambda name: float(np.linalg.norm(rgb - np.asarray(COLOUR_NAMES[name]))))


def _object_colour_name(obj: OutsideObject) -> str:
    # A caption never names a held-out combination either: no "purple triangle", no "orange"
    # object moving up (their colours are at least NEAR away from the world's, so the next
    # nearest name is as fair).
    exclude = ("purple",) if obj.shape.startswith("triangle") else ()
    exclude += ("orange",) if obj.velocity[1] < 0 else ()
    return colour_name(obj.colour, exclude)


def _motion_words(velocity: tuple[float, float]) -> str:
    vertical = "down" if velocity[1] > 0 else "up" if velocity[1] < 0 else ""
    horizontal = "right" if velocity[0] > 0 else "left" if velocity[0] < 0 else ""
    return " and ".join(word for word in (vertical, horizontal) if word)


def outside_caption(scene: OutsideScene) -> str:
    """"a pink bar moving down and right and a ... on a white background" for a scene."""
    objects = " and ".join(f"a {_object_colour_name(o)} {SHAPE_WORDS[o.shape]} moving {_motion_words(o.velocity)}"
                           for o in scene.objects)
    return f"{objects} on a {colour_name(scene.background)} background"


def outside_clip(seed: int | list[int], size: int = 64, frames: int = 16) -> np.ndarray:
    """uint8 (T, S, S, 3): one clip outside the world's vocabulary, fixed by `seed`."""
    return render_outside(sample_outside_scene(seed, size, frames))


def _background(rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.5:
        names = tuple(BACKGROUNDS)
        return np.asarray(BACKGROUNDS[names[int(rng.integers(len(names)))]], dtype=np.float32)
    return rng.uniform(0, 255, size=3).astype(np.float32)


def _near(colour: np.ndarray, name: str) -> bool:
    return float(np.linalg.norm(colour - np.asarray(COLOURS[name], dtype=np.float64))) < NEAR


def _object(rng: np.random.Generator, background: np.ndarray, size: int, frames: int) -> OutsideObject:
    while True:
        shape = OUTSIDE_SHAPES[int(rng.integers(len(OUTSIDE_SHAPES)))]
        colour = rng.uniform(0, 255, size=3)
        dx, dy = DIRECTIONS[int(rng.integers(len(DIRECTIONS)))]
        if float(np.linalg.norm(colour - background)) < MIN_CONTRAST:
            continue
        if shape.startswith("triangle") and _near(colour, "purple"):
            continue
        if dy < 0 and _near(colour, "orange"):
            continue
        break
    long_side = rng.uniform(*LONG_SIDE_RANGE) * size
    if shape in ("bar", "ellipse"):
        short_side = long_side / rng.uniform(*ASPECT_RANGE)
        w, h = (long_side, short_side) if rng.random() < 0.5 else (short_side, long_side)
    else:
        w = h = long_side
    norm = float(np.hypot(dx, dy))
    speed = rng.uniform(*SPEED_RANGE) * size
    vx, vy = dx / norm * speed, dy / norm * speed
    travel_x, travel_y = abs(vx) * (frames - 1), abs(vy) * (frames - 1)
    # The box must fit the frame for the whole clip: shrink the speed where it cannot.
    scale = min(1.0, (size - w) / max(travel_x, 1e-9), (size - h) / max(travel_y, 1e-9))
    vx, vy = vx * scale, vy * scale
    travel_x, travel_y = abs(vx) * (frames - 1), abs(vy) * (frames - 1)
    x_lo = w / 2 + (travel_x if vx < 0 else 0.0)
    x_hi = size - w / 2 - (travel_x if vx > 0 else 0.0)
    y_lo = h / 2 + (travel_y if vy < 0 else 0.0)
    y_hi = size - h / 2 - (travel_y if vy > 0 else 0.0)
    return OutsideObject(shape=shape, colour=tuple(float(c) for c in colour), half_w=w / 2, half_h=h / 2,
                         start_x=float(rng.uniform(x_lo, max(x_lo, x_hi))),
                         start_y=float(rng.uniform(y_lo, max(y_lo, y_hi))), velocity=(float(vx), float(vy)))


def _coverage(obj: OutsideObject, t: int, size: int) -> np.ndarray:
    """float32 (S, S): the share of each pixel's 4 x 4 sub-samples inside the object in frame t."""
    k = SUPERSAMPLE
    sub = (np.arange(size * k, dtype=np.float64) + 0.5) / k       # S*k sub-sample coordinates
    u = (sub - (obj.start_x + obj.velocity[0] * t))[None, :] / obj.half_w   # 1 Sk, box units [-1, 1]
    v = (sub - (obj.start_y + obj.velocity[1] * t))[:, None] / obj.half_h   # Sk 1
    if obj.shape == "bar":
        inside = (np.abs(u) <= 1) & (np.abs(v) <= 1)
    elif obj.shape == "ellipse":
        inside = u * u + v * v <= 1
    elif obj.shape == "plus":
        inside = ((np.abs(u) <= 1) & (np.abs(v) <= 1 / 3)) | ((np.abs(u) <= 1 / 3) & (np.abs(v) <= 1))
    else:
        # The world's triangle (apex up, base = height) mirrored or turned: apex down / left / right.
        along, across = {"triangle_down": (-v, u), "triangle_left": (u, v), "triangle_right": (-u, v)}[obj.shape]
        inside = (along <= 1) & (np.abs(across) <= (along + 1) / 2)
    inside = np.broadcast_to(inside, (size * k, size * k))
    return rearrange(inside.astype(np.float32), "(h a) (w b) -> h w (a b)", a=k, b=k).mean(-1)


def check_outside_vocabulary_share(share: float, kind: str = "shapes") -> None:
    """ConfigError unless `share` is in [0, 1] and, when above 0, the data is the shapes world."""
    if not 0.0 <= share <= 1.0:
        raise ConfigError(f"data.outside_vocabulary_share must be in [0, 1], got {share}")
    if share and kind != "shapes":
        raise ConfigError(f"data.outside_vocabulary_share={share} mixes clips into the shapes world; "
                          f"it needs data.kind=shapes, got {kind!r}")


class WithOutsideClips(Dataset):
    """A `ShapesDataset` in which a seeded share of the items are clips outside the vocabulary.

    Whether item i is replaced, and the clip that replaces it, depend only on the item's world seed,
    so the mix is the same on every machine and across resumes. A replaced item keeps its index and
    has its `outside_caption`.
    """

    def __init__(self, base: ShapesDataset, share: float):
        check_outside_vocabulary_share(share)
        self.base, self.share = base, float(share)

    def __len__(self) -> int:
        return len(self.base)

    @property
    def frames(self) -> int:
        return self.base.frames

    def __getitem__(self, i: int) -> dict:
        return self.item(i)

    def item(self, i: int, frames: Sequence[int] | None = None) -> dict:
        """Item `i`, with only the frame indices `frames` (default: all) of its clip."""
        if not 0 <= i < len(self.base):
            raise IndexError(f"index {i} out of range for a dataset of length {len(self.base)}")
        index = self.base.start + i
        seed = seed_for(index, self.base.split)
        if np.random.default_rng([seed, 2]).random() >= self.share:
            return self.base.item(i, frames)
        scene = sample_outside_scene([seed, 3], self.base.size, self.base.frames)
        pixels = render_outside(scene)                                                      # T H W 3 uint8
        if frames is not None:
            pixels = pixels[np.asarray(frames, dtype=np.int64)]
        video = torch.from_numpy(pixels).permute(3, 0, 1, 2).float().div_(127.5).sub_(1.0)  # 3 T H W
        return {"video": video, "caption": outside_caption(scene), "index": index}
