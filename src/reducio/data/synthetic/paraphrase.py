"""Seeded paraphrases of shapes-world captions, for training text conditioning that does not
hinge on one template ("a red ball going right over black"). The canonical caption stays one of
the outputs, so a model trained with paraphrases still sees (and must understand) it.
"""

from __future__ import annotations

import numpy as np

from reducio.data.synthetic.vocab import SceneSpec, caption

CANONICAL_PROBABILITY = 0.25

SHAPE_WORDS = {
    "circle": ("circle", "ball", "disc", "dot"),
    "square": ("square", "box", "block"),
    "triangle": ("triangle",),
}
VERBS = ("moving", "going", "heading", "sliding", "travelling", "drifting")
DIRECTION_WORDS = {
    "left": ("left", "to the left", "leftwards"),
    "right": ("right", "to the right", "rightwards"),
    "up": ("up", "upwards", "towards the top"),
    "down": ("down", "downwards", "towards the bottom"),
}
BACKGROUND_WORDS = {"black": ("black",), "white": ("white",), "gray": ("gray", "grey")}
BACKGROUND_TEMPLATES = (
    "{objects} on a {background} background",
    "{objects} over {background}",
    "{objects} against a {background} backdrop",
    "{objects} on {background}",
    "on a {background} background, {objects}",
)
JOINERS = (" and ", " while ", ", and ")


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def paraphrase(scene: SceneSpec, rng: np.random.Generator) -> str:
    """A caption for `scene`: canonical with probability 0.25, else a random rewording."""
    if rng.random() < CANONICAL_PROBABILITY:
        return caption(scene)
    parts = []
    for o in scene.objects:
        shape, verb = _pick(rng, SHAPE_WORDS[o.shape]), _pick(rng, VERBS)
        parts.append(f"a {o.colour} {shape} {verb} {_pick(rng, DIRECTION_WORDS.get(o.direction, (o.direction,)))}")
    objects = _pick(rng, JOINERS).join(parts)
    background = _pick(rng, BACKGROUND_WORDS[scene.background])
    return _pick(rng, BACKGROUND_TEMPLATES).format(objects=objects, background=background)
