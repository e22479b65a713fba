"""User prompts for the built-in model: normalised to the canonical caption, unknown words named."""

from __future__ import annotations

import numpy as np
import pytest

from reducio.data.synthetic.paraphrase import BACKGROUND_WORDS
from reducio.data.synthetic.vocab import (
    BACKGROUNDS,
    COLOURS,
    SHAPES,
    ObjectSpec,
    SceneSpec,
    caption,
    normalize_prompt,
    parse_caption,
    unknown_prompt_words,
)


@pytest.mark.parametrize("typed, canonical", [
    ("A red circle moving right on a black background.", "a red circle moving right on a black background"),
    ("  An ORANGE square,  moving up on the grey background!! ", "a orange square moving up on a gray background"),
    ("a blue triangle moving to the left on a white background", "a blue triangle moving left on a white background"),
    ("a green circle moving upwards; and a red square moving downward - on a black background",
     "a green circle moving up and a red square moving down on a black background"),
    ("“a purple circle moving right on a gray background”", "a purple circle moving right on a gray background"),
    ("a red circle moving up-right on a black background", "a red circle moving up-right on a black background"),
])
def test_typed_prompts_become_canonical(typed, canonical):
    assert normalize_prompt(typed) == canonical
    assert unknown_prompt_words(typed, directions=("right", "left", "up", "down", "up-right")) == ()


def test_canonical_captions_are_fixed_points():
    rng = np.random.default_rng(0)
    for _ in range(50):
        objects = tuple(ObjectSpec(str(rng.choice(list(COLOURS))), str(rng.choice(SHAPES)),
                                   str(rng.choice(["left", "right", "up", "down"])))
                        for _ in range(int(rng.integers(1, 3))))
        text = caption(SceneSpec(objects, str(rng.choice(list(BACKGROUNDS)))))
        assert normalize_prompt(text) == text
        assert parse_caption(normalize_prompt(text.upper() + ".")) == parse_caption(text)


def test_every_background_spelling_of_the_paraphraser_is_understood():
    for background, words in BACKGROUND_WORDS.items():
        for word in words:
            assert normalize_prompt(word) == background


def test_unknown_words_are_named_once_in_order():
    assert unknown_prompt_words("A cat, a cat and a dog on a sofa") == ("cat", "dog", "sofa")
    assert unknown_prompt_words("a pink circle moving sideways on a black background") == ("pink", "sideways")
