"""Reranker training pairs: the content frame, near misses of the same scene, seeded per item."""

from __future__ import annotations

import pytest
import torch

from reducio.data.synthetic.render import render
from reducio.data.synthetic.rerank_pairs import RerankPairDataset, content_frame, degrade
from reducio.data.synthetic.world import sample_scene, seed_for
from reducio.errors import ConfigError


def test_the_image_is_the_scenes_content_frame_with_its_caption():
    item = RerankPairDataset("train", size=32, length=10)[3]
    scene = sample_scene(seed_for(3, "train"), "train", size=32)
    pixels = torch.from_numpy(render(scene, [7])[0]).permute(2, 0, 1).float() / 127.5 - 1  # frame 7 of 16
    assert torch.equal(item["image"], pixels) and torch.equal(content_frame(scene), pixels)
    assert item["caption"] == scene.caption and item["index"] == 3


def test_near_misses_differ_in_what_they_show_and_items_repeat_exactly():
    data = RerankPairDataset("train", size=32, length=10, hard_negatives=3, augment=True, seed=5)
    first, again = data[4], data[4]
    assert first["negatives"].shape == (3, 3, 32, 32)
    assert torch.equal(first["image"], again["image"]) and torch.equal(first["negatives"], again["negatives"])
    clean = RerankPairDataset("train", size=32, length=10, hard_negatives=3)[4]
    for negative in clean["negatives"]:
        assert not torch.equal(negative, clean["image"])  # one visible thing changed
    assert not torch.equal(first["image"], clean["image"])  # augmented
    other_seed = RerankPairDataset("train", size=32, length=10, hard_negatives=3, augment=True, seed=6)[4]
    assert not torch.equal(other_seed["image"], first["image"])


def test_degrade_keeps_the_range_and_shape():
    images = torch.rand(2, 3, 16, 16) * 2 - 1
    out = degrade(images, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.min() >= -1 and out.max() <= 1 and not torch.equal(out, images)


def test_bad_settings_are_named():
    with pytest.raises(ConfigError, match="hard_negatives must be >= 0"):
        RerankPairDataset(hard_negatives=-1)
    with pytest.raises(ConfigError, match="multiple of 8"):
        RerankPairDataset(size=30)
    with pytest.raises(IndexError):
        RerankPairDataset(length=2)[2]
