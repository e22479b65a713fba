"""Same prompt, same seed, same machine and thread count: the same file, bit for bit."""

from __future__ import annotations

import hashlib

import pytest
import torch

from reducio.cli.main import main
from reducio.data.video_io import read_video
from reducio.data.video_write import write_video


def _digest(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _blurry_clip() -> torch.Tensor:
    """A 64 px clip of smooth colour fields changing every frame (3, 16, 64, 64): like a model's
    output, and unlike clean shapes, it made x264's 64 px files differ from encode to encode."""
    coarse = torch.rand(3, 16, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return torch.nn.functional.interpolate(coarse, size=(64, 64), mode="bilinear", align_corners=False)


@pytest.mark.parametrize("suffix, lossless", [(".mp4", False), (".webm", False), (".mkv", True)])
def test_writing_one_clip_again_gives_the_same_bytes(tmp_path, suffix, lossless):
    """Reads in between, as a real run does. Without the writer's fixed muxer settings every one
    of these mp4 files differed, and mkv / webm headers held a random id."""
    video = _blurry_clip()
    digests = set()
    for i in range(8):
        path = write_video(tmp_path / f"clip{i}{suffix}", video, fps=16, lossless=lossless)
        digests.add(_digest(path))
        read_video(path)
    assert len(digests) == 1


def test_generate_twice_with_one_seed_gives_the_same_file(tmp_path):
    prompt = "a orange square moving up on a black background"
    paths = [tmp_path / f"run{i}.mp4" for i in range(2)]
    for path in paths:
        assert main(["generate", prompt, "--seed", "104", "-o", str(path)]) == 0
    assert torch.equal(read_video(paths[0]), read_video(paths[1]))
    assert _digest(paths[0]) == _digest(paths[1])
