"""The ghost share: pixels away from every object that differ from the background."""

from __future__ import annotations

import pytest
import torch

from reducio.data.synthetic.world import make_clip
from reducio.errors import ConfigError
from reducio.eval.ghosts import ghost_share


def _square_clip(copies: list[tuple[int, int, int]], size: int = 32, frames: int = 4) -> torch.Tensor:
    """uint8 T H W 3 on black: a red 6x6 square at each (row, col, value) placement."""
    clip = torch.zeros(frames, size, size, 3, dtype=torch.uint8)
    for row, col, value in copies:
        clip[:, row:row + 6, col:col + 6, 0] = value
    return clip


def test_one_clean_object_has_no_ghosts():
    assert ghost_share(_square_clip([(4, 4, 255)]), objects=1) == 0.0


def test_a_faint_second_copy_counts_and_a_sub_threshold_one_does_not():
    ghost = ghost_share(_square_clip([(4, 4, 255), (20, 20, 120)]), objects=1)
    assert ghost == pytest.approx(36 / (32 * 32 - 10 * 10))   # the copy's 36 pixels, away from the grown object
    assert ghost_share(_square_clip([(4, 4, 255), (20, 20, 40)]), objects=1) == 0.0


def test_a_named_second_object_is_not_a_ghost():
    assert ghost_share(_square_clip([(4, 4, 255), (20, 20, 255)]), objects=2) == 0.0


def test_the_worlds_own_clips_are_near_zero():
    shares = [ghost_share(make_clip(i, "test", size=64).video, len(make_clip(i, "test", size=64).scene.objects))
              for i in range(4)]
    assert max(shares) < 0.01


def test_objects_must_be_positive():
    with pytest.raises(ConfigError, match="objects=0"):
        ghost_share(_square_clip([(4, 4, 255)]), objects=0)
