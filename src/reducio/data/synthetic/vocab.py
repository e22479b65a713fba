"""The vocabulary and caption grammar of the synthetic "shapes" world, version 1.

Names and sRGB values are part of the contract (docs/synthetic-world.md): the generator, the
evaluator and every outside check agree on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reducio.errors import ConfigError, ReducioError

WORLD_VERSION = 1

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (40, 90, 230),
    "yellow": (240, 220, 40),
    "purple": (160, 60, 210),
    "orange": (250, 140, 30),
}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "gray": (128, 128, 128),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
DIRECTIONS: tuple[str, ...] = ("left", "right", "up", "down")
# Unit motion per direction in image coordinates (dx, dy); up = towards row 0.
DIRECTION_VECTORS: dict[str, tuple[int, int]] = {
    "left": (-1, 0),
    "right": (1, 0),
    "up": (0, -1),
    "down": (0, 1),
}

# Opt-in extension, outside version 1 of the contract: diagonal motion. Nothing draws or accepts
# these words unless asked for by name (`MOTION_SETS`), so the default world, its splits and its
# captions are those of version 1. A diagonal object moves one unit along each axis per unit of
# speed (its speed along each axis is the world's speed).
DIAGONAL_DIRECTIONS: tuple[str, ...] = ("up-right", "up-left", "down-right", "down-left")
DIAGONAL_VECTORS: dict[str, tuple[int, int]] = {
    "up-right": (1, -1),
    "up-left": (-1, -1),
    "down-right": (1, 1),
    "down-left": (-1, 1),
}
# The direction sets a generator draws from or an evaluator reads: "axis" is version 1.
MOTION_SETS: dict[str, tuple[str, ...]] = {
    "axis": DIRECTIONS,
    "diagonal": DIAGONAL_DIRECTIONS,
    "eight": DIRECTIONS + DIAGONAL_DIRECTIONS,
}


def motion_directions(motion: str) -> tuple[str, ...]:
    """The directions of a named motion set ("axis", "diagonal", "eight")."""
    if motion not in MOTION_SETS:
        raise ConfigError(f"unknown motion set {motion!r}; valid: {', '.join(MOTION_SETS)}")
    return MOTION_SETS[motion]


def direction_vector(direction: str) -> tuple[int, int]:
    """(dx, dy) of an axis or diagonal direction word."""
    vector = DIRECTION_VECTORS.get(direction) or DIAGONAL_VECTORS.get(direction)
    if vector is None:
        raise CaptionError(f"unknown direction {direction!r}; valid: {', '.join(MOTION_SETS['eight'])}")
    return vector


class CaptionError(ReducioError, ValueError):
    """A caption does not follow the canonical grammar of the shapes world."""


@dataclass(frozen=True)
class ObjectSpec:
    colour: str
    shape: str
    direction: str


@dataclass(frozen=True)
class SceneSpec:
    objects: tuple[ObjectSpec, ...]
    background: str

    def caption(self) -> str:
        return caption(self)


def object_is_heldout(obj: ObjectSpec, background: str) -> bool:
    """The held-out rule: purple triangles, orange objects moving up, squares on white."""
    return (
        (obj.colour == "purple" and obj.shape == "triangle")
        or (obj.colour == "orange" and obj.direction == "up")
        or (obj.shape == "square" and background == "white")
    )


def scene_is_heldout(scene: SceneSpec) -> bool:
    return any(object_is_heldout(obj, scene.background) for obj in scene.objects)


def caption(scene: SceneSpec) -> str:
    """Canonical caption: 'a {colour} {shape} moving {direction} [and a ...] on a {bg} background'."""
    parts = [f"a {o.colour} {o.shape} moving {o.direction}" for o in scene.objects]
    return " and ".join(parts) + f" on a {scene.background} background"


# The direction may be hyphenated (the diagonal extension); the other words are single.
_OBJECT = r"a (\w+) (\w+) moving ([\w-]+)"
_CAPTION_RE = re.compile(rf"^{_OBJECT}(?: and {_OBJECT})? on a (\w+) background$")


def parse_caption(text: str, directions: tuple[str, ...] = DIRECTIONS) -> SceneSpec:
    """Parse a canonical caption back into a scene; raises CaptionError naming the bad word.

    `directions`: the direction words accepted (version 1's by default; `motion_directions(...)`
    for the diagonal extension).
    """
    normalised = " ".join(text.strip().lower().split())
    match = _CAPTION_RE.match(normalised)
    if match is None:
        raise CaptionError(
            f"caption {text!r} does not follow the grammar "
            "'a {colour} {shape} moving {direction} [and a {colour} {shape} moving {direction}] "
            "on a {background} background'"
        )
    groups = match.groups()
    objects = []
    for colour, shape, direction in (groups[0:3], groups[3:6]):
        if colour is None:
            continue
        _check_word("colour", colour, COLOURS)
        _check_word("shape", shape, SHAPES)
        _check_word("direction", direction, directions)
        objects.append(ObjectSpec(colour, shape, direction))
    background = groups[6]
    _check_word("background", background, BACKGROUNDS)
    return SceneSpec(tuple(objects), background)


def _check_word(kind: str, word: str, valid) -> None:
    if word not in valid:
        raise CaptionError(f"unknown {kind} {word!r} in caption; valid: {', '.join(valid)}")


# ------------------------------------------------------------------------- user prompts
# What a person types for the built-in model differs from the canonical caption in ways that do
# not change its meaning; the model was trained on canonical captions, so these are mapped before
# it reads the prompt. Phrases first (they hold words mapped singly below), then single words.
_PROMPT_PHRASES = (
    (r"\bto the (left|right)\b", r"\1"),
    (r"\btowards the top\b", "up"),
    (r"\btowards the bottom\b", "down"),
)
_PROMPT_WORDS = {
    "an": "a", "the": "a",
    "grey": "gray",
    "leftwards": "left", "leftward": "left", "rightwards": "right", "rightward": "right",
    "upwards": "up", "upward": "up", "downwards": "down", "downward": "down",
}
# Grammar words of the caption template, besides the vocabulary itself.
_GRAMMAR_WORDS = ("a", "moving", "and", "on", "background")


def normalize_prompt(text: str) -> str:
    """A prompt in the canonical caption's form: lower case, no punctuation, single spaces,
    the world's spellings ("grey" -> "gray", "an" -> "a", "upwards" -> "up").

    "A red circle moving right on a black background." -> "a red circle moving right on a black
    background". Hyphens inside words stay (diagonal directions such as "up-right").
    """
    text = text.casefold()
    text = re.sub(r"[^\w\s-]|_", " ", text)              # punctuation -> space
    text = re.sub(r"(?<!\w)-|-(?!\w)", " ", text)        # a hyphen not joining two words
    text = " ".join(text.split())
    for pattern, replacement in _PROMPT_PHRASES:
        text = re.sub(pattern, replacement, text)
    return " ".join(_PROMPT_WORDS.get(word, word) for word in text.split())


def unknown_prompt_words(text: str, directions: tuple[str, ...] = DIRECTIONS) -> tuple[str, ...]:
    """Words of the normalised prompt outside the world's vocabulary, in order, each once."""
    known = {*_GRAMMAR_WORDS, *COLOURS, *BACKGROUNDS, *SHAPES, *directions}
    return tuple(dict.fromkeys(w for w in normalize_prompt(text).split() if w not in known))


def outside_world(prompt: str) -> str | None:
    """Why `prompt`, once normalised, is not a caption of the shapes world (naming the unknown
    words, or the expected word order), or None when it is one."""
    text = normalize_prompt(prompt)
    try:
        parse_caption(text)
    except CaptionError:
        unknown = unknown_prompt_words(text)
        return (f"unknown word(s): {', '.join(unknown)}" if unknown else
                "its words are known but not in the order 'a {colour} {shape} moving {direction} "
                "on a {background} background'")
    return None
