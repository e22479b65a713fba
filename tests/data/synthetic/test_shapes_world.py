"""The shapes world follows docs/synthetic-world.md: determinism, splits, held-out rule, geometry."""

import numpy as np
import pytest
import torch

from reducio.data.synthetic.render import render
from reducio.data.synthetic.vocab import (
    BACKGROUNDS,
    COLOURS,
    DIRECTIONS,
    SHAPES,
    object_is_heldout,
    parse_caption,
    scene_is_heldout,
)
from reducio.data.synthetic.world import (
    SPLIT_SEED_OFFSETS,
    SPLIT_SIZE_LIMIT,
    SPLITS,
    ShapesDataset,
    make_clip,
    sample_scene,
    seed_for,
)
from reducio.errors import ConfigError, ShapeError


def test_same_index_same_pixels_and_caption():
    a, b = make_clip(17, "train"), make_clip(17, "train")
    assert np.array_equal(a.video, b.video)
    assert a.caption == b.caption and a.scene == b.scene and a.seed == b.seed


def test_different_indices_and_splits_differ():
    videos = [make_clip(i, "train").video for i in range(6)]
    assert all(not np.array_equal(videos[0], v) for v in videos[1:])
    assert make_clip(3, "train").seed != make_clip(3, "test").seed


def test_generator_does_not_touch_global_random_state():
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    make_clip(5)
    assert np.random.random() == expected


def test_split_seed_ranges_are_disjoint():
    ranges = sorted((SPLIT_SEED_OFFSETS[s], SPLIT_SEED_OFFSETS[s] + SPLIT_SIZE_LIMIT) for s in SPLITS)
    for (_, hi), (lo, _) in zip(ranges, ranges[1:]):
        assert hi <= lo
    assert seed_for(SPLIT_SIZE_LIMIT - 1, "train") < seed_for(0, "validation")
    with pytest.raises(ConfigError):
        seed_for(SPLIT_SIZE_LIMIT, "train")
    assert seed_for(4, "val") == seed_for(4, "validation")
    with pytest.raises(ConfigError, match="valid"):
        make_clip(0, "training")


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_heldout_combinations_never_outside_heldout(split):
    for index in range(2000):
        scene = sample_scene(seed_for(index, split), split)
        assert not scene_is_heldout(scene.spec), (index, scene.caption)


def test_heldout_split_always_has_a_heldout_object():
    kinds = set()
    for index in range(2000):
        scene = sample_scene(seed_for(index, "heldout"), "heldout")
        held = [o for o in scene.objects if object_is_heldout(o.spec, scene.background)]
        assert held, scene.caption
        for o in held:
            kinds.add("purple triangle" if (o.colour, o.shape) == ("purple", "triangle") else
                      "orange up" if (o.colour, o.direction) == ("orange", "up") else "square on white")
    assert kinds == {"purple triangle", "orange up", "square on white"}


def test_sampling_law_counts_and_vocabulary():
    scenes = [sample_scene(seed_for(i)) for i in range(3000)]
    two = np.mean([len(s.objects) == 2 for s in scenes])
    assert abs(two - 0.3) < 0.04  # binomial std ~0.008
    for s in scenes:
        if len(s.objects) == 2:
            assert s.objects[0].colour != s.objects[1].colour
    used = {(o.colour, o.shape, o.direction) for s in scenes for o in s.objects}
    assert {c for c, _, _ in used} == set(COLOURS)
    assert {sh for _, sh, _ in used} == set(SHAPES)
    assert {d for _, _, d in used} == set(DIRECTIONS)
    assert {s.background for s in scenes} == set(BACKGROUNDS)


def test_caption_grammar_round_trip():
    for index in range(300):
        for split in ("train", "heldout"):
            clip = make_clip(index, split, size=32, frames=2)
            assert parse_caption(clip.caption) == clip.scene.spec
            assert clip.caption == " ".join(clip.caption.split()) and clip.caption == clip.caption.lower()


@pytest.mark.parametrize("size", [32, 64, 96, 128])
@pytest.mark.parametrize("frames", [8, 16, 24])
def test_sizes_frames_and_geometry_within_spec(size, frames):
    for index in range(12):
        clip = make_clip(index, "train", size=size, frames=frames)
        assert clip.video.shape == (frames, size, size, 3) and clip.video.dtype == np.uint8
        for o in clip.scene.objects:
            assert 0.20 * size <= o.size <= 0.30 * size
            assert 0.015 * size <= o.speed <= 0.03 * size
            for t in (0, frames - 1):
                x0, y0, x1, y1 = o.box(t)
                assert x0 >= -1e-9 and y0 >= -1e-9 and x1 <= size + 1e-9 and y1 <= size + 1e-9
            # the object moves in its direction by speed px per frame
            (ax, ay), (bx, by) = o.centre(0), o.centre(frames - 1)
            dx, dy = o.unit_vector
            assert np.isclose(bx - ax, dx * o.speed * (frames - 1)) and np.isclose(by - ay, dy * o.speed * (frames - 1))


def test_long_clips_stay_inside_with_capped_speed():
    for index in range(20):
        scene = sample_scene(seed_for(index), size=64, frames=64)
        for o in scene.objects:
            x0, y0, x1, y1 = o.box(63)
            assert min(x0, y0) >= -1e-9 and max(x1, y1) <= 64 + 1e-9
        assert render(scene).shape == (64, 64, 64, 3)


def test_pixels_match_geometry():
    """Outside every object's box: exactly the background; at an unoccluded centre: the colour."""
    for index in range(30):
        clip = make_clip(index, "train", size=64, frames=8)
        scene = clip.scene
        bg = np.array(BACKGROUNDS[scene.background])
        for t in (0, 7):
            mask = np.zeros((64, 64), bool)
            for o in scene.objects:
                x0, y0, x1, y1 = o.box(t)
                mask[int(np.floor(y0)) : int(np.ceil(y1)), int(np.floor(x0)) : int(np.ceil(x1))] = True
            assert (clip.video[t][~mask] == bg).all()
            top = scene.objects[-1]
            cx, cy = top.centre(t)
            # a point inside every shape: below the centre for the up-pointing triangle
            px, py = int(cx), int(cy + top.size * 0.15)
            assert (clip.video[t, py, px] == np.array(COLOURS[top.colour])).all()


def test_edges_are_antialiased():
    clip = make_clip(0, "train", size=64, frames=1)
    colours = {tuple(p) for p in clip.video.reshape(-1, 3)}
    assert len(colours) > 2  # blended edge pixels besides background and object colour


def test_bad_geometry_rejected():
    with pytest.raises(ShapeError, match="multiple of 32"):
        make_clip(0, size=48)
    with pytest.raises(ShapeError):
        make_clip(0, frames=0)


def test_shapes_dataset_items():
    ds = ShapesDataset("validation", size=32, frames=8, length=5, start=10)
    item = ds[2]
    assert len(ds) == 5 and item["index"] == 12
    assert item["video"].shape == (3, 8, 32, 32) and item["video"].dtype == torch.float32
    assert item["video"].min() >= -1 and item["video"].max() <= 1
    clip = make_clip(12, "validation", size=32, frames=8)
    assert item["caption"] == clip.caption
    expected = torch.from_numpy(clip.video).permute(3, 0, 1, 2).float() / 127.5 - 1
    assert torch.equal(item["video"], expected)
    with pytest.raises(IndexError):
        ds[5]


def test_shapes_dataset_paraphrase_keeps_pixels():
    plain = ShapesDataset("train", size=32, frames=4, length=20)
    para = ShapesDataset("train", size=32, frames=4, length=20, paraphrase=True)
    captions = [para[i]["caption"] for i in range(20)]
    assert captions == [para[i]["caption"] for i in range(20)]  # deterministic
    assert any(c != plain[i]["caption"] for i, c in enumerate(captions))
    assert torch.equal(plain[3]["video"], para[3]["video"])


def test_rendering_chosen_frames_matches_the_full_render():
    for index in range(10):
        scene = sample_scene(seed_for(index), size=64, frames=16)
        full = render(scene)
        assert np.array_equal(render(scene, frames=[7]), full[[7]])
        assert np.array_equal(render(scene, frames=[0, 15, 3]), full[[0, 15, 3]])
        item = ShapesDataset("train", length=10).item(index, frames=[7])
        assert torch.equal(item["video"], ShapesDataset("train", length=10)[index]["video"][:, 7:8])


def test_rendering_a_frame_outside_the_clip_fails():
    scene = sample_scene(seed_for(0), size=64, frames=16)
    with pytest.raises(ValueError, match=r"\[0, 16\)"):
        render(scene, frames=[16])
