"""The opt-in diagonal motion sets of the shapes world: version 1 stays bit-identical, diagonal
clips move along both axes and stay inside the frame, captions parse only when asked to."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from reducio.data.synthetic.paraphrase import paraphrase
from reducio.data.synthetic.vocab import (
    DIAGONAL_DIRECTIONS,
    DIRECTIONS,
    MOTION_SETS,
    CaptionError,
    parse_caption,
)
from reducio.data.synthetic.world import SPLITS, ShapesDataset, make_clip, parse_split_spec
from reducio.errors import ConfigError

# sha256 over (caption, pixels, paraphrase) of clips 0..39 of every split at 32 px x 8 frames, as
# the version-1 generator wrote them before the diagonal extension existed.
VERSION_1_DIGEST = "8d233b723845d87ec9c2ce064a2ff3fd06e8d19d27df4becd8d87ecaf5e6d6e8"


def test_version_1_clips_captions_and_paraphrases_are_unchanged():
    digest = hashlib.sha256()
    for split in SPLITS:
        for i in range(40):
            clip = make_clip(i, split, size=32, frames=8)
            digest.update(clip.caption.encode())
            digest.update(clip.video.tobytes())
            digest.update(paraphrase(clip.scene.spec, np.random.default_rng([clip.seed, 1])).encode())
    assert digest.hexdigest() == VERSION_1_DIGEST


@pytest.mark.parametrize("motion", ["diagonal", "eight"])
def test_motion_sets_draw_their_directions_and_diagonals_move_on_both_axes(motion):
    clips = [make_clip(i, "train", size=64, motion=motion) for i in range(120)]
    used = {o.direction for c in clips for o in c.scene.objects}
    assert used == set(MOTION_SETS[motion])
    for clip in clips:
        for obj in clip.scene.objects:
            x0, y0 = obj.centre(0)
            x1, y1 = obj.centre(clip.scene.frames - 1)
            dx, dy = np.sign(x1 - x0), np.sign(y1 - y0)
            if obj.direction in DIAGONAL_DIRECTIONS:
                horizontal, vertical = ("right" in obj.direction) - ("left" in obj.direction), \
                                       ("down" in obj.direction) - ("up" in obj.direction)
                assert (dx, dy) == (horizontal, vertical)
                assert abs(x1 - x0) == pytest.approx(abs(y1 - y0))
            for t in (0, clip.scene.frames - 1):   # inside the frame for the whole clip
                bx0, by0, bx1, by1 = obj.box(t)
                assert bx0 >= -1e-6 and by0 >= -1e-6 and bx1 <= 64 + 1e-6 and by1 <= 64 + 1e-6


def test_held_out_rule_holds_for_the_diagonal_sets():
    for i in range(60):
        assert not any(o.colour == "orange" and o.direction == "up"
                       for o in make_clip(i, "test", size=32, frames=4, motion="eight").scene.objects)
    assert any(o.colour == "orange" and o.direction == "up" for i in range(200)
               for o in make_clip(i, "heldout", size=32, frames=4, motion="eight").scene.objects)


def test_diagonal_words_parse_only_when_asked_and_paraphrase_keeps_them():
    caption = make_clip(0, "test", size=32, frames=4, motion="diagonal").caption
    assert any(d in caption for d in DIAGONAL_DIRECTIONS)
    with pytest.raises(CaptionError, match="unknown direction"):
        parse_caption(caption)
    spec = parse_caption(caption, MOTION_SETS["eight"])
    assert spec.objects[0].direction in DIAGONAL_DIRECTIONS
    assert spec.objects[0].direction in paraphrase(spec, np.random.default_rng(0))
    assert parse_caption("a red circle moving up on a black background").objects[0].direction in DIRECTIONS


def test_split_specs_and_datasets_name_the_motion_set():
    assert parse_split_spec("test") == ("test", "axis")
    assert parse_split_spec("val:diagonal") == ("validation", "diagonal")
    with pytest.raises(ConfigError, match="valid: axis, diagonal, eight"):
        parse_split_spec("test:zigzag")
    with pytest.raises(ConfigError, match="unknown split"):
        parse_split_spec("tset:diagonal")
    item = ShapesDataset("train", size=32, frames=4, length=2, motion="diagonal")[0]
    assert item["caption"] == make_clip(0, "train", size=32, frames=4, motion="diagonal").caption
    with pytest.raises(ConfigError):
        ShapesDataset("train", motion="spiral")


def test_extraction_reads_a_split_with_its_motion_set(tmp_path):
    from reducio.pipelines.extract import ClipSource, ExtractConfig

    source = ClipSource(ExtractConfig(output=str(tmp_path), source="synthetic", split="train:diagonal", count=2,
                                      size=32, frames=4))
    (clip,) = source.clips(1)
    assert clip.caption == make_clip(1, "train", size=32, frames=4, motion="diagonal").caption
    assert clip.meta["source"] == "shapes:train:diagonal:1"
    (plain,) = ClipSource(ExtractConfig(output=str(tmp_path), source="synthetic", split="train", count=2,
                                        size=32, frames=4)).clips(1)
    assert plain.meta["source"] == "shapes:train:1" and plain.caption == make_clip(1, "train", 32, 4).caption
    with pytest.raises(ConfigError, match="optionally followed by :diagonal or :eight"):
        ClipSource(ExtractConfig(output=str(tmp_path), source="synthetic", split="tran:diagonal", count=2))
