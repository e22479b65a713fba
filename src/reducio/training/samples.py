"""Writing visual samples: a PNG grid of frames and, kinds side by side, an mp4 per clip."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from einops import rearrange
from PIL import Image

from reducio.data.video_io import side_by_side, write_video

logger = logging.getLogger(__name__)


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """(..., H, W) in [-1, 1] -> uint8 with the same layout."""
    return ((video.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()


def frame_grid(videos: dict[str, torch.Tensor]) -> np.ndarray:
    """Rows: for each clip b, one row per video kind (e.g. input, reconstruction); columns: frames.

    videos: name -> (B, 3, T, H, W). Returns an (rows*H, T*W, 3) uint8 image.
    """
    stacked = torch.stack(list(videos.values()), dim=1)  # B K 3 T H W
    grid = rearrange(stacked, "b k c t h w -> (b k h) (t w) c")
    return to_uint8(grid)


def write_samples(directory: Path, step: int, videos: dict[str, torch.Tensor], fps: int = 16) -> list[Path]:
    """Save `step-XXXXXXXX.png` and `step-XXXXXXXX-B.mp4` (kinds side by side) for each clip B."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    png = directory / f"step-{step:08d}.png"
    Image.fromarray(frame_grid(videos)).save(png)
    written.append(png)
    try:
        clips = [v.detach().float().clamp(-1, 1).cpu() for v in videos.values()]
        for b in range(clips[0].shape[0]):
            combined = side_by_side(*[clip[b] for clip in clips]) if len(clips) > 1 else clips[0][b]
            path = directory / f"step-{step:08d}-{b}.mp4"
            write_video(path, combined, fps=fps)
            written.append(path)
    except Exception as error:  # a sample video must never stop a training run
        logger.warning("could not write sample video at step %d: %s", step, error)
    return written
