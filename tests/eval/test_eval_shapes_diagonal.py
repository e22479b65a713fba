"""The evaluator's opt-in eight-way motion reading: it accepts rendered diagonal clips, rejects an
axis motion for a diagonal prompt, and leaves the default (version-1) verdicts exactly as they were."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from reducio.data.synthetic.vocab import CaptionError
from reducio.data.synthetic.world import make_clip
from reducio.errors import ConfigError
from reducio.eval.shapes import ShapesEvaluator
from reducio.eval.shapes_detect import classify_direction, classify_direction_eight

# sha256 of the default evaluator's verdicts and seen words (see _verdict_digest) as the evaluator
# wrote them before the eight-way reading existed.
DEFAULT_VERDICTS_DIGEST = "ddc605c402fb3a3b6a3740e54989e45baa666f966bbb05f46af2908bb2ebe2a9"


def _verdict_digest(evaluator: ShapesEvaluator) -> str:
    clips = [make_clip(i, split, size=32, frames=8) for split in ("test", "heldout") for i in range(12)]
    digest = hashlib.sha256()
    rng = np.random.default_rng(0)
    for k, clip in enumerate(clips):
        noisy = np.clip(clip.video.astype(np.float32) + rng.normal(0, 12, clip.video.shape), 0, 255).astype(np.uint8)
        for video in (clip.video, noisy):
            for prompt in (clip.caption, clips[(k + 5) % len(clips)].caption):
                v = evaluator.evaluate(video, prompt)
                words = [v.attributes(), v.description.background,
                         [(o.colour, o.shape, o.direction) for o in v.description.objects]]
                digest.update(json.dumps(words, sort_keys=True).encode())
    return digest.hexdigest()


def test_default_verdicts_are_unchanged():
    assert _verdict_digest(ShapesEvaluator()) == DEFAULT_VERDICTS_DIGEST
    assert _verdict_digest(ShapesEvaluator(motion="axis")) == DEFAULT_VERDICTS_DIGEST


def test_four_way_reading_is_untouched_and_eight_way_splits_the_plane_in_sectors():
    assert classify_direction(0.02, -0.02, 0.005) == "right"          # version 1: the larger axis wins
    assert classify_direction_eight(0.02, -0.02, 0.005) == "up-right"
    assert classify_direction_eight(-0.02, 0.018, 0.005) == "down-left"
    assert classify_direction_eight(0.02, 0.007, 0.005) == "right"     # 19 degrees: still right
    assert classify_direction_eight(0.02, 0.009, 0.005) == "down-right"  # 24 degrees
    assert classify_direction_eight(0.0, -0.02, 0.005) == "up"
    assert classify_direction_eight(0.001, 0.002, 0.005) is None


@pytest.mark.parametrize("motion", ["diagonal", "eight"])
def test_eight_way_evaluator_accepts_rendered_clips_of_the_motion_set(motion):
    evaluator = ShapesEvaluator(motion=motion)
    clips = [make_clip(i, "test", size=64, motion=motion) for i in range(16)]
    assert all(evaluator.evaluate(c.video, c.caption).joint for c in clips)


def test_an_axis_motion_fails_a_diagonal_prompt_and_the_default_refuses_diagonal_words():
    evaluator = ShapesEvaluator(motion="eight")
    clip = make_clip(0, "test", size=64)                               # version 1: axis motion
    direction = clip.scene.objects[0].direction
    diagonal = {"left": "up-left", "right": "down-right", "up": "up-right", "down": "down-left"}[direction]
    prompt = clip.caption.replace(f"moving {direction}", f"moving {diagonal}", 1)
    verdict = evaluator.evaluate(clip.video, prompt)
    assert not verdict.direction and verdict.colour and verdict.shape and verdict.background
    assert evaluator.evaluate(clip.video, clip.caption).joint          # axis words stay readable
    with pytest.raises(CaptionError):
        ShapesEvaluator().evaluate(clip.video, prompt)
    with pytest.raises(ConfigError, match="unknown motion set"):
        ShapesEvaluator(motion="spiral")
