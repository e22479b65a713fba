import numpy as np

from reducio.data.synthetic.paraphrase import SHAPE_WORDS, paraphrase
from reducio.data.synthetic.vocab import ObjectSpec, SceneSpec, caption


def test_paraphrases_vary_keep_the_words_and_include_canonical():
    scene = SceneSpec((ObjectSpec("red", "circle", "right"), ObjectSpec("blue", "square", "up")), "gray")
    texts = [paraphrase(scene, np.random.default_rng(i)) for i in range(200)]
    assert caption(scene) in texts
    assert len(set(texts)) > 20
    for text in texts:
        assert "red" in text and "blue" in text
        assert any(w in text for w in SHAPE_WORDS["circle"]) and any(w in text for w in SHAPE_WORDS["square"])
        assert "gray" in text or "grey" in text


def test_paraphrase_is_deterministic_per_generator():
    scene = SceneSpec((ObjectSpec("green", "triangle", "left"),), "black")
    assert paraphrase(scene, np.random.default_rng(7)) == paraphrase(scene, np.random.default_rng(7))
