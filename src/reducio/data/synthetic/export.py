"""Writing shapes-world clips to disk: one video file per clip plus `captions.jsonl`.

Files are lossless by default (H.264 RGB crf 0 in .mp4, FFV1 in .mkv, VP9 lossless in .webm, or
PNG folders): 4:2:0 chroma subsampling would smear the flat colours of 64-px clips. With
`verify=True` every file is decoded again and compared with the rendered pixels.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from reducio.data.synthetic.world import SPLIT_SIZE_LIMIT, make_clip
from reducio.data.video_io import read_video
from reducio.data.video_write import write_video
from reducio.errors import ConfigError, VideoWriteError

logger = logging.getLogger(__name__)

CAPTIONS_FILE = "captions.jsonl"
# The "comment" tag of clips of this world: what `reducio data synth` writes, and `reducio generate`
# with a model of this world. A clip with this tag counts as a shapes-world clip wherever it is.
SHAPES_WORLD_COMMENT = "reducio shapes world"


@dataclass(frozen=True)
class ExportReport:
    """What was written: the folder, the number of clips, the worst decode error (levels, 0-255)."""

    directory: Path
    count: int
    max_abs_error: int | None


def write_shapes_dataset(
    out_dir: str | Path,
    count: int,
    split: str = "train",
    size: int = 64,
    frames: int = 16,
    start: int = 0,
    fps: float = 16,
    extension: str = ".mp4",
    lossless: bool = True,
    verify: bool = True,
    progress: bool = True,
) -> ExportReport:
    """Write clips `start .. start + count - 1` of `split` to `out_dir`.

    Each line of `captions.jsonl`: {"path": relative file, "caption": canonical caption, "split",
    "index", "seed", "scene": full geometry (ShapesScene.to_dict)}.
    """
    if count < 1 or start < 0 or start + count > SPLIT_SIZE_LIMIT:
        raise ConfigError(f"need count >= 1 and 0 <= start, start + count <= {SPLIT_SIZE_LIMIT}; got {count}, {start}")
    extension = extension if extension.startswith(".") or not extension else f".{extension}"
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise VideoWriteError(f"{out_dir}: cannot create the output folder ({error})") from None
    worst: int | None = 0 if verify else None
    lines = []
    for index in tqdm(range(start, start + count), desc=f"shapes {split}", unit="clip", disable=not progress):
        clip = make_clip(index, split, size, frames)
        name = f"{split}_{index:07d}{extension}"
        path = write_video(out_dir / name, clip.video, fps=fps, lossless=lossless, comment=SHAPES_WORLD_COMMENT)
        if verify:
            error = _decode_error(path, clip.video, fps)
            worst = max(worst, error)
            if lossless and error > 2:
                raise VideoWriteError(
                    f"{path}: decoding the 'lossless' file differs from the rendered pixels by {error} "
                    "levels; this PyAV/FFmpeg build does not encode it losslessly: try .mkv (FFV1)"
                )
        record = {"path": name, "caption": clip.caption, "split": split, "index": index, "seed": clip.seed,
                  "scene": clip.scene.to_dict()}
        lines.append(json.dumps(record))
    (out_dir / CAPTIONS_FILE).write_text("\n".join(lines) + "\n")
    if verify:
        logger.info("decoded files differ from the rendered clips by at most %d levels (0-255)", worst)
    return ExportReport(directory=out_dir, count=count, max_abs_error=worst)


def _decode_error(path: Path, video: np.ndarray, fps: float) -> int:
    decoded = read_video(path, num_frames=video.shape[0], fps=fps)  # 3 T H W in [-1, 1]
    pixels = ((decoded + 1.0) * 127.5).round().permute(1, 2, 3, 0).numpy()
    return int(np.abs(pixels.astype(np.int32) - video.astype(np.int32)).max())
