"""The synthetic "shapes" world, version 1 (docs/synthetic-world.md), drawn from integer seeds.

A clip is fixed by (split, index): its seed is `SPLIT_SEED_OFFSETS[split] + index`, so the four
splits draw from disjoint seed ranges, and `numpy.random.default_rng(seed)` is the only source of
randomness (no global state). Train, validation and test scenes never contain a held-out object
(`vocab.object_is_heldout`); heldout scenes always contain at least one. Both are enforced by
redrawing the categorical part of the scene (background, colours, shapes, directions) from the
same generator, with the number of objects drawn first so that it keeps its 0.7 / 0.3 law.

Order of draws for one seed: number of objects; (background, then colour, shape, direction per
object) until the scene is accepted; then per object its size, speed and start position.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from reducio.data.synthetic.paraphrase import paraphrase
from reducio.data.synthetic.render import render
from reducio.data.synthetic.vocab import (
    BACKGROUNDS,
    COLOURS,
    SHAPES,
    WORLD_VERSION,
    ObjectSpec,
    SceneSpec,
    caption,
    direction_vector,
    motion_directions,
    scene_is_heldout,
)
from reducio.errors import ConfigError, ShapeError

SPLITS = ("train", "validation", "test", "heldout")
# Disjoint seed ranges: index i of a split has seed offset + i, for 0 <= i < SPLIT_SIZE_LIMIT.
SPLIT_SIZE_LIMIT = 1_000_000_000
SPLIT_SEED_OFFSETS = {split: i * SPLIT_SIZE_LIMIT for i, split in enumerate(SPLITS)}
SPLIT_ALIASES = {"val": "validation", "valid": "validation"}

# Geometry as fractions of the frame side S (synthetic-world.md, "Geometry").
SIZE_RANGE = (0.20, 0.30)
SPEED_RANGE = (0.015, 0.03)
TWO_OBJECTS_PROBABILITY = 0.3


@dataclass(frozen=True, kw_only=True)
class ObjectGeometry:
    """One moving object: what it is and exactly where it is in every frame (pixel units).

    The object is centred at `(start_x + dx * speed * t, start_y + dy * speed * t)` in frame t, with
    (dx, dy) the unit vector of `direction`; `size` is the circle diameter, square side, or
    triangle base and height. x grows to the right, y downwards (up = towards row 0).
    """

    colour: str
    shape: str
    direction: str
    size: float
    speed: float
    start_x: float
    start_y: float

    @property
    def spec(self) -> ObjectSpec:
        return ObjectSpec(self.colour, self.shape, self.direction)

    @property
    def unit_vector(self) -> tuple[int, int]:
        return direction_vector(self.direction)

    def centre(self, t: float) -> tuple[float, float]:
        dx, dy = self.unit_vector
        return self.start_x + dx * self.speed * t, self.start_y + dy * self.speed * t

    def box(self, t: float) -> tuple[float, float, float, float]:
        """Bounding box (x0, y0, x1, y1) in frame t."""
        x, y = self.centre(t)
        half = self.size / 2
        return x - half, y - half, x + half, y + half


@dataclass(frozen=True, kw_only=True)
class ShapesScene:
    """A full scene: vocabulary words, geometry, frame size/count and the seed that drew it."""

    background: str
    objects: tuple[ObjectGeometry, ...]
    size: int
    frames: int
    seed: int
    version: int = WORLD_VERSION

    @property
    def spec(self) -> SceneSpec:
        return SceneSpec(tuple(o.spec for o in self.objects), self.background)

    @property
    def caption(self) -> str:
        return caption(self.spec)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["objects"] = [asdict(o) for o in self.objects]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ShapesScene:
        data = dict(data)
        data["objects"] = tuple(ObjectGeometry(**o) for o in data["objects"])
        return cls(**data)


@dataclass(frozen=True)
class ShapesClip:
    """video: uint8 (T, S, S, 3); caption: canonical; scene: full geometry; seed: its seed."""

    video: np.ndarray
    caption: str
    scene: ShapesScene
    seed: int


# ----------------------------------------------------------------------------------- sampling


def seed_for(index: int, split: str = "train") -> int:
    """The seed of clip `index` of `split` (disjoint ranges per split)."""
    split = _check_split(split)
    if not 0 <= int(index) < SPLIT_SIZE_LIMIT:
        raise ConfigError(f"clip index must be in [0, {SPLIT_SIZE_LIMIT}), got {index}")
    return SPLIT_SEED_OFFSETS[split] + int(index)


def sample_scene(seed: int, split: str = "train", size: int = 64, frames: int = 16,
                 motion: str = "axis") -> ShapesScene:
    """Draw a scene from `seed`; `split == "heldout"` forces a held-out object, any other split forbids one.

    `motion`: the direction set drawn from (vocab.MOTION_SETS): "axis" is version 1; "diagonal"
    and "eight" are the opt-in diagonal extension (same seeds, same order of draws).
    """
    split = _check_split(split)
    _check_geometry(size, frames)
    directions = motion_directions(motion)
    rng = np.random.default_rng(seed)
    count = 2 if rng.random() < TWO_OBJECTS_PROBABILITY else 1
    want_heldout = split == "heldout"
    while True:
        background = _choice(rng, tuple(BACKGROUNDS))
        specs = tuple(
            ObjectSpec(_choice(rng, tuple(COLOURS)), _choice(rng, SHAPES), _choice(rng, directions))
            for _ in range(count)
        )
        distinct = len({s.colour for s in specs}) == count
        if distinct and scene_is_heldout(SceneSpec(specs, background)) == want_heldout:
            break
    objects = tuple(_place(rng, spec, size, frames) for spec in specs)
    return ShapesScene(background=background, objects=objects, size=size, frames=frames, seed=int(seed))


def make_clip(index: int, split: str = "train", size: int = 64, frames: int = 16,
              motion: str = "axis") -> ShapesClip:
    """Clip `index` of `split`: pixels, canonical caption, geometry and seed (`motion`: see sample_scene)."""
    split = _check_split(split)
    seed = seed_for(index, split)
    scene = sample_scene(seed, split, size, frames, motion)
    return ShapesClip(video=render(scene), caption=scene.caption, scene=scene, seed=seed)


def _choice(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _place(rng: np.random.Generator, spec: ObjectSpec, size: int, frames: int) -> ObjectGeometry:
    side = rng.uniform(*SIZE_RANGE) * size
    lo, hi = SPEED_RANGE[0] * size, SPEED_RANGE[1] * size
    if frames > 1:
        # Long clips (T > ~24 at the largest size) cannot keep the full speed range inside the
        # frame; cap the speed so that the object still never leaves it.
        fit = (size - side) / (frames - 1)
        hi = min(hi, fit)
        lo = min(lo, hi)
    speed = rng.uniform(lo, hi)
    travel = speed * (frames - 1)
    half = side / 2
    dx, dy = direction_vector(spec.direction)
    # Along the motion axis the centre must start far enough from the edge it moves towards.
    x_lo, x_hi = half + max(-dx, 0) * travel, size - half - max(dx, 0) * travel
    y_lo, y_hi = half + max(-dy, 0) * travel, size - half - max(dy, 0) * travel
    # max(): at the speed cap the range is a single point, up to float rounding.
    start_x = rng.uniform(x_lo, max(x_lo, x_hi))
    start_y = rng.uniform(y_lo, max(y_lo, y_hi))
    return ObjectGeometry(
        colour=spec.colour, shape=spec.shape, direction=spec.direction,
        size=float(side), speed=float(speed), start_x=float(start_x), start_y=float(start_y),
    )


def parse_split_spec(spec: str) -> tuple[str, str]:
    """`"train"` -> ("train", "axis"); `"train:diagonal"` -> ("train", "diagonal"): a split and its
    motion set, so that commands taking a split name (`reducio extract --synthetic`) reach the
    diagonal extension without a flag of their own."""
    split, _, motion = spec.partition(":")
    motion = motion or "axis"
    motion_directions(motion)
    return _check_split(split), motion


def _check_split(split: str) -> str:
    """The canonical split name ("val" -> "validation"); ConfigError for an unknown one."""
    split = SPLIT_ALIASES.get(split, split)
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; valid: {', '.join(SPLITS)} (or 'val')")
    return split


def _check_geometry(size: int, frames: int) -> None:
    if size < 32 or size % 32:
        raise ShapeError(f"shapes-world size must be a multiple of 32 (>= 32), got {size}; use 64 or 128")
    if frames < 1:
        raise ShapeError(f"shapes-world clips need at least 1 frame, got {frames}")


# ------------------------------------------------------------------------------------ dataset


class ShapesDataset(Dataset):
    """Clips `start .. start + length - 1` of a split, rendered on the fly.

    Items: {"video": float (3, T, S, S) in [-1, 1], "caption": str, "index": int}. With
    `paraphrase=True` the caption is a seeded paraphrase (canonical about a quarter of the time).
    """

    def __init__(self, split: str = "train", size: int = 64, frames: int = 16, length: int = 10_000,
                 paraphrase: bool = False, start: int = 0, motion: str = "axis"):
        split = _check_split(split)
        motion_directions(motion)
        _check_geometry(size, frames)
        if length < 1 or start < 0 or start + length > SPLIT_SIZE_LIMIT:
            raise ConfigError(
                f"ShapesDataset needs length >= 1 and 0 <= start, start + length <= {SPLIT_SIZE_LIMIT}; "
                f"got start={start}, length={length}"
            )
        self.split, self.size, self.frames = split, size, frames
        self.length, self.paraphrase, self.start, self.motion = length, paraphrase, start, motion

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict:
        return self.item(i)

    def item(self, i: int, frames: Sequence[int] | None = None) -> dict:
        """Item `i`, drawing only the frame indices `frames` (default: all) of its clip."""
        if not 0 <= i < self.length:
            raise IndexError(f"index {i} out of range for a ShapesDataset of length {self.length}")
        index = self.start + i
        seed = seed_for(index, self.split)
        scene = sample_scene(seed, self.split, self.size, self.frames, self.motion)
        text = scene.caption
        if self.paraphrase:
            # A separate stream keyed by the seed: paraphrasing never changes the pixels.
            text = paraphrase(scene.spec, np.random.default_rng([seed, 1]))
        pixels = render(scene, frames)                                                     # T H W 3 uint8
        video = torch.from_numpy(pixels).permute(3, 0, 1, 2).float().div_(127.5).sub_(1.0)  # 3 T H W
        return {"video": video, "caption": text, "index": index}
