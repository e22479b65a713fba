"""Files the demo tests upload: a shapes-world clip, an image, a corrupt file."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory) -> dict[str, Path]:
    from PIL import Image

    from reducio.data.synthetic.world import make_clip
    from reducio.data.video_io import write_video

    root = tmp_path_factory.mktemp("demo-files")
    clip = make_clip(0, "test", frames=20)                      # 20 frames of 64x64 at 16 fps: 1.25 s
    files = {"clip": write_video(root / "clip.mp4", clip.video, fps=16),
             "short": write_video(root / "short.mp4", clip.video[:4], fps=16),
             "image": root / "frame.png", "wide": root / "wide.png",
             "corrupt": root / "corrupt.mp4", "corrupt_image": root / "corrupt.png"}
    Image.fromarray(clip.video[7]).save(files["image"])
    Image.fromarray(clip.video[7][:32]).save(files["wide"])   # 64 wide, 32 high
    files["corrupt"].write_bytes(b"\x00\x01 not a video " * 200)
    files["corrupt_image"].write_bytes(b"\x89PNG\r\n\x1a\n garbage " * 20)
    return files
