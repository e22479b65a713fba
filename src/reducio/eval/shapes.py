"""Judging a clip against a shapes-world prompt (docs/synthetic-world.md).

`ShapesEvaluator().evaluate(clip, prompt)` reads the scene in the clip (`describe`, see
`reducio.eval.shapes_detect` for how) and checks it against the prompt attribute by attribute:

- background: the clip's dominant colour is the named background;
- colour: every object of the prompt is present in its colour;
- shape / direction: every prompt object, matched to a seen object (same colour first; an
  object of the wrong colour can still be matched to score its shape and motion), has the
  prompt's shape / moves in the prompt's direction;
- object_count: the clip shows as many objects as the prompt names (no extra, none missing);
- joint: all of the above.

`ShapesAccuracy` sums verdicts into per-attribute and joint accuracies. Per-frame mode
(`evaluate_frames`): every frame is read on its own and judged on colour, shape, background and
object count (`FramesVerdict`: does the scene hold in every frame, and where not).
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reducio.data.synthetic.vocab import ObjectSpec, SceneSpec, caption, motion_directions, parse_caption
from reducio.data.video_io import read_video
from reducio.errors import ShapeError
from reducio.eval.shapes_detect import (DetectedObject, ShapesEvaluatorConfig, classify_direction_eight,
    classify_pixels, detect_background, detect_objects)

ATTRIBUTES = ("colour", "shape", "direction", "background", "object_count", "joint")

Clip = torch.Tensor | np.ndarray | str | Path


def clip_pixels(clip: Clip) -> torch.Tensor:
    """Any accepted clip -> float pixels `T H W 3` in 0..255.

    Accepts a float tensor `3 T H W` in [-1, 1], uint8 frames `T H W 3` (numpy or torch), or a
    video file path (decoded with reducio.data.video_io.read_video).
    """
    if isinstance(clip, (str, Path)):
        clip = read_video(clip)
    if isinstance(clip, np.ndarray):
        clip = torch.from_numpy(np.ascontiguousarray(clip))
    if not isinstance(clip, torch.Tensor):
        raise ShapeError(f"a clip must be a tensor, a numpy array or a video path, got {type(clip).__name__}")
    if clip.dtype == torch.uint8:
        if clip.ndim != 4 or clip.shape[-1] != 3:
            raise ShapeError(f"uint8 clips must be (T, H, W, 3), got {tuple(clip.shape)}")
        return clip.float()
    if clip.ndim != 4 or clip.shape[0] != 3 or not clip.is_floating_point():
        raise ShapeError(
            f"float clips must be (3, T, H, W) in [-1, 1], got {tuple(clip.shape)} {clip.dtype}; "
            "pass one clip (video[0]) or uint8 (T, H, W, 3) frames"
        )
    pixels = (clip.detach().float().cpu().clamp(-1, 1) + 1) * 127.5
    return pixels.permute(1, 2, 3, 0).contiguous()  # T H W 3


@dataclass(frozen=True)
class SceneDescription:
    """What the evaluator sees: the background and the objects, largest first."""

    background: str | None
    background_rgb: tuple[float, float, float]
    objects: tuple[DetectedObject, ...]

    def to_scene_spec(self) -> SceneSpec | None:
        """The scene as a SceneSpec when it is a complete world scene (1-2 objects, all read)."""
        if self.background is None or not 1 <= len(self.objects) <= 2:
            return None
        if any(o.shape is None or o.direction is None for o in self.objects):
            return None
        return SceneSpec(tuple(ObjectSpec(o.colour, o.shape, o.direction) for o in self.objects), self.background)

    def caption(self) -> str | None:
        spec = self.to_scene_spec()
        return None if spec is None else caption(spec)

    def to_dict(self) -> dict[str, Any]:
        return {
            "background": self.background,
            "background_rgb": list(self.background_rgb),
            "objects": [o.to_dict() for o in self.objects],
            "caption": self.caption(),
        }


@dataclass(frozen=True)
class ObjectVerdict:
    """One prompt object and the seen object it was matched to (None: nothing left to match)."""

    expected: ObjectSpec
    detected: DetectedObject | None
    colour: bool
    shape: bool
    direction: bool


@dataclass(frozen=True)
class ShapesVerdict:
    """Per-attribute correctness of a clip for a prompt; `joint` is all of them."""

    prompt: str
    colour: bool
    shape: bool
    direction: bool
    background: bool
    object_count: bool
    joint: bool
    objects: tuple[ObjectVerdict, ...] = field(default=())
    description: SceneDescription | None = None

    def attributes(self) -> dict[str, bool]:
        return {name: getattr(self, name) for name in ATTRIBUTES}

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            **self.attributes(),
            "seen": None if self.description is None else self.description.to_dict(),
        }


class ShapesEvaluator:
    """Reads shapes-world clips and checks them against canonical prompts.

    `motion`: "axis" (default) is version 1 of the world, judged as it always was. "diagonal" or
    "eight" opt into the diagonal extension (vocab.MOTION_SETS): prompts may use that set's
    direction words and every object's motion is read eight-way (`classify_direction_eight`), so
    an object asked to move up-right that moves up is wrong. Shape, colour, background and count
    are read the same way in every mode.
    """

    def __init__(self, config: ShapesEvaluatorConfig | None = None, *, motion: str = "axis"):
        self.config = config or ShapesEvaluatorConfig()
        self.directions = motion_directions(motion)
        self.motion = motion

    def describe(self, clip: Clip) -> SceneDescription:
        """The background and objects seen in a clip (see module docstring of shapes_detect)."""
        pixels = clip_pixels(clip)
        background, median = detect_background(pixels, self.config.background_threshold)
        labels = classify_pixels(pixels, self.config.colour_threshold)
        objects = detect_objects(pixels, labels, torch.tensor(median), self.config)
        if self.motion != "axis":
            objects = [dataclasses.replace(o, direction=classify_direction_eight(*o.velocity, self.config.min_speed))
                       for o in objects]
        return SceneDescription(background, median, tuple(objects))

    def evaluate(self, clip: Clip, prompt: str | SceneSpec) -> ShapesVerdict:
        """Check a clip against a canonical prompt (raises CaptionError for other wording)."""
        spec = prompt if isinstance(prompt, SceneSpec) else parse_caption(prompt, self.directions)
        return judge(self.describe(clip), spec)

    def describe_frames(self, clip: Clip) -> tuple[SceneDescription, ...]:
        """Per-frame mode: each frame read on its own, as a one-frame clip (no direction)."""
        video = clip_pixels(clip).permute(3, 0, 1, 2) / 127.5 - 1.0  # 3 T H W in [-1, 1]
        return tuple(self.describe(video[:, t:t + 1]) for t in range(video.shape[1]))

    def evaluate_frames(self, clip: Clip, prompt: str | SceneSpec) -> FramesVerdict:
        """Per-frame mode: whether each frame shows the prompt's colours, shapes, background and
        object count (motion is not in one frame: judge it with `evaluate`)."""
        spec = prompt if isinstance(prompt, SceneSpec) else parse_caption(prompt, self.directions)
        return judge_frames(self.describe_frames(clip), spec)


def _match(expected: tuple[ObjectSpec, ...], seen: tuple[DetectedObject, ...]) -> list[DetectedObject | None]:
    """Assign seen objects to prompt objects: colour agreement first, then shape + direction."""
    options = [None, *range(len(seen))]
    best, best_score = [None] * len(expected), -1.0
    for choice in itertools.product(options, repeat=len(expected)):
        taken = [c for c in choice if c is not None]
        if len(taken) != len(set(taken)):
            continue
        score = 0.0
        for spec, c in zip(expected, choice):
            if c is None:
                continue
            obj = seen[c]
            score += 4 * (obj.colour == spec.colour) + (obj.shape == spec.shape) + (obj.direction == spec.direction)
            score += 0.5  # a match beats no match
        if score > best_score:
            best, best_score = [None if c is None else seen[c] for c in choice], score
    return best


def judge(description: SceneDescription, spec: SceneSpec) -> ShapesVerdict:
    """Compare a seen scene with the prompt's scene."""
    matched = _match(spec.objects, description.objects)
    verdicts = tuple(
        ObjectVerdict(
            expected=want,
            detected=got,
            colour=got is not None and got.colour == want.colour,
            shape=got is not None and got.shape == want.shape,
            direction=got is not None and got.direction == want.direction,
        )
        for want, got in zip(spec.objects, matched)
    )
    colour = all(v.colour for v in verdicts)
    shape = all(v.shape for v in verdicts)
    direction = all(v.direction for v in verdicts)
    background = description.background == spec.background
    object_count = len(description.objects) == len(spec.objects)
    return ShapesVerdict(
        prompt=caption(spec),
        colour=colour,
        shape=shape,
        direction=direction,
        background=background,
        object_count=object_count,
        joint=colour and shape and direction and background and object_count,
        objects=verdicts,
        description=description,
    )


FRAME_ATTRIBUTES = ("colour", "shape", "background", "object_count", "joint")


@dataclass(frozen=True)
class FramesVerdict:
    """Per-frame verdicts (`FRAME_ATTRIBUTES`, joint = all four) of one clip for one prompt."""

    prompt: str
    frames: tuple[dict[str, bool], ...]

    def holds(self, attribute: str = "joint") -> bool:
        """Whether `attribute` is right in every frame."""
        return all(frame[attribute] for frame in self.frames)

    def fraction(self, attribute: str = "joint") -> float:
        """The fraction of frames where `attribute` is right."""
        return sum(frame[attribute] for frame in self.frames) / max(1, len(self.frames))

    def failing(self, attribute: str = "joint") -> list[int]:
        """Indices of the frames where `attribute` is wrong."""
        return [t for t, frame in enumerate(self.frames) if not frame[attribute]]

    def to_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt, **{f"{name}_frames": self.fraction(name) for name in FRAME_ATTRIBUTES},
                "failing": self.failing()}


def judge_frames(descriptions: tuple[SceneDescription, ...], spec: SceneSpec) -> FramesVerdict:
    """Judge each frame's description against the prompt, direction left out."""
    frames = []
    for description in descriptions:
        verdict = judge(description, spec)
        values = {name: getattr(verdict, name) for name in FRAME_ATTRIBUTES[:-1]}
        frames.append({**values, "joint": all(values.values())})
    return FramesVerdict(prompt=caption(spec), frames=tuple(frames))


class ShapesAccuracy:
    """Running per-attribute and joint accuracy over many verdicts."""

    def __init__(self) -> None:
        self.count = 0
        self.correct = dict.fromkeys(ATTRIBUTES, 0)

    def update(self, verdict: ShapesVerdict | dict[str, Any]) -> None:
        """Add one verdict (a ShapesVerdict or its to_dict())."""
        values = verdict.attributes() if isinstance(verdict, ShapesVerdict) else verdict
        self.count += 1
        for name in ATTRIBUTES:
            self.correct[name] += bool(values[name])

    def summary(self) -> dict[str, float | int]:
        """{"count": n, "colour": accuracy, ..., "joint": accuracy} (accuracies in [0, 1])."""
        out: dict[str, float | int] = {"count": self.count}
        for name in ATTRIBUTES:
            out[name] = self.correct[name] / self.count if self.count else float("nan")
        return out


class MotionBinding:
    """Where each object of a two-object prompt whose objects move different ways went: its own
    direction ("right"), the other object's ("the other object's": the motions bound to the wrong
    objects, or both moving alike), another direction ("another"), no motion read ("still"), or no
    seen object matched to it ("missing"). Prompts whose two objects share a direction, and
    one-object prompts, are not counted."""

    OUTCOMES = ("right", "the other object's", "another", "still", "missing")

    def __init__(self) -> None:
        self.counts = dict.fromkeys(self.OUTCOMES, 0)

    def update(self, verdict: ShapesVerdict) -> None:
        """Add the objects of one verdict."""
        if len(verdict.objects) != 2:
            return
        wanted = [obj.expected.direction for obj in verdict.objects]
        if wanted[0] == wanted[1]:
            return
        for k, obj in enumerate(verdict.objects):
            seen = None if obj.detected is None else obj.detected.direction
            outcome = ("missing" if obj.detected is None else "still" if seen is None
                       else "right" if seen == wanted[k] else "the other object's"
                       if seen == wanted[1 - k] else "another")
            self.counts[outcome] += 1

    def summary(self) -> dict[str, int]:
        """{"objects": n, "right": n, "the other object's": n, ...}"""
        return {"objects": sum(self.counts.values()), **self.counts}


class ShapeConfusion:
    """Counts each asked-for shape, per background, by the shape the evaluator saw:
    {"square on white -> circle": n, ...}; "missing" when no seen object was matched to it."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def update(self, verdict: ShapesVerdict) -> None:
        """Add the objects of one verdict (its prompt must be a world caption)."""
        background = parse_caption(verdict.prompt).background
        for obj in verdict.objects:
            seen = obj.detected.shape if obj.detected is not None else "missing"
            key = f"{obj.expected.shape} on {background} -> {seen}"
            self.counts[key] = self.counts.get(key, 0) + 1

    def summary(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))
