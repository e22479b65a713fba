"""Clips outside the shapes world's vocabulary (VAE training data): deterministic, never a
vocabulary shape or a held-out combination, objects inside the frame, and the seeded mix."""

import numpy as np
import pytest

from reducio.data.synthetic.outside import (
    ASPECT_RANGE,
    MIN_CONTRAST,
    NEAR,
    WithOutsideClips,
    outside_clip,
    render_outside,
    sample_outside_scene,
)
from reducio.data.synthetic.vocab import COLOURS
from reducio.data.synthetic.world import ShapesDataset
from reducio.errors import ConfigError
from reducio.training.config import VideoDataSection


def test_same_seed_same_pixels_and_seeds_differ():
    a, b = outside_clip(11), outside_clip(11)
    assert a.dtype == np.uint8 and a.shape == (16, 64, 64, 3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, outside_clip(12))
    assert outside_clip([3, 4], size=32, frames=5).shape == (5, 32, 32, 3)


def _distance(colour, name):
    return float(np.linalg.norm(np.asarray(colour) - np.asarray(COLOURS[name], dtype=np.float64)))


def test_never_a_vocabulary_shape_nor_a_held_out_colour_or_motion():
    seen = set()
    for seed in range(1500):
        scene = sample_outside_scene(seed)
        for obj in scene.objects:
            seen.add(obj.shape)
            long_side, short_side = max(obj.half_w, obj.half_h), min(obj.half_w, obj.half_h)
            if obj.shape in ("bar", "ellipse"):   # never a square or a circle
                assert long_side / short_side >= ASPECT_RANGE[0] - 1e-9
            assert obj.shape != "triangle" and not obj.shape.endswith("_up")
            if obj.shape.startswith("triangle"):
                assert _distance(obj.colour, "purple") >= NEAR
            if obj.velocity[1] < 0:
                assert _distance(obj.colour, "orange") >= NEAR
            assert np.linalg.norm(np.asarray(obj.colour) - np.asarray(scene.background)) >= MIN_CONTRAST
            for t in (0, scene.frames - 1):   # the bounding box stays inside the frame
                x = obj.start_x + obj.velocity[0] * t
                y = obj.start_y + obj.velocity[1] * t
                assert -1e-6 <= x - obj.half_w and x + obj.half_w <= scene.size + 1e-6
                assert -1e-6 <= y - obj.half_h and y + obj.half_h <= scene.size + 1e-6
    assert seen == {"bar", "ellipse", "triangle_down", "triangle_left", "triangle_right", "plus"}


def test_objects_are_drawn_with_their_colour_over_the_background():
    scene = sample_outside_scene(7)
    video = render_outside(scene)
    pixels = video[0].reshape(-1, 3).astype(float)
    background = np.asarray(scene.background)
    assert (np.abs(pixels - np.rint(background)).max(axis=1) == 0).mean() > 0.5
    top = np.rint(np.asarray(scene.objects[-1].colour))
    assert (np.abs(pixels - top).max(axis=1) == 0).any()   # the last object's interior is exact


def test_the_mix_is_seeded_and_keeps_the_world_items():
    base = ShapesDataset("train", size=32, frames=4, length=200)
    assert [WithOutsideClips(base, 0.0)[i]["caption"] for i in range(5)] == [base[i]["caption"] for i in range(5)]
    mixed = WithOutsideClips(base, 0.5)
    captions = [mixed[i]["caption"] for i in range(200)]
    replaced = sum(c != base[i]["caption"] for i, c in enumerate(captions))
    assert 70 <= replaced <= 130
    for i in range(200):
        item, again = mixed[i], mixed[i]
        assert item["index"] == base[i]["index"] and item["video"].shape == (3, 4, 32, 32)
        np.testing.assert_array_equal(item["video"].numpy(), again["video"].numpy())
        if item["caption"] == base[i]["caption"]:
            np.testing.assert_array_equal(item["video"].numpy(), base[i]["video"].numpy())
    assert all(" background" in WithOutsideClips(base, 1.0)[i]["caption"] for i in range(10))
    with pytest.raises(IndexError):
        mixed[200]


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan")])
def test_a_share_outside_zero_to_one_is_refused(share):
    with pytest.raises(ConfigError, match="outside_vocabulary_share"):
        VideoDataSection(kind="shapes", outside_vocabulary_share=share)
    with pytest.raises(ConfigError, match="outside_vocabulary_share"):
        WithOutsideClips(ShapesDataset("train", size=32, frames=4, length=4), share)


def test_the_share_needs_the_shapes_world():
    with pytest.raises(ConfigError, match="data.kind=shapes"):
        VideoDataSection(kind="folder", root="videos", outside_vocabulary_share=0.5)


def test_captions_name_what_is_drawn_and_never_a_held_out_combination():
    from reducio.data.synthetic.outside import COLOUR_NAMES, SHAPE_WORDS, colour_name, outside_caption

    assert colour_name((250, 160, 200)) == "pink" and colour_name((250, 160, 200), exclude=("pink",)) != "pink"
    for seed in range(1500):
        scene = sample_outside_scene(seed)
        text = outside_caption(scene)
        assert text.startswith("a ") and text.endswith(" background")
        assert text.count(" moving ") == len(scene.objects)
        assert "square" not in text and "circle" not in text and "purple triangle" not in text
        for part in text.rsplit(" on a ", 1)[0].split(" and a "):
            words = part.removeprefix("a ")
            if words.startswith("orange "):
                assert " moving up" not in words
        assert text.rsplit(" on a ", 1)[1].removesuffix(" background") in COLOUR_NAMES
        assert any(word in text for word in SHAPE_WORDS.values())


def test_items_can_hold_only_some_frames():
    base = ShapesDataset("train", size=32, frames=6, length=50)
    mixed = WithOutsideClips(base, 1.0)
    item, full = mixed.item(3, frames=[2]), mixed[3]
    assert item["video"].shape == (3, 1, 32, 32) and item["caption"] == full["caption"] != ""
    np.testing.assert_array_equal(item["video"][:, 0].numpy(), full["video"][:, 2].numpy())
