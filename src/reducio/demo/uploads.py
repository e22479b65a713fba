"""What a person uploads to the demo (checked before any model runs) and the files it writes."""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from reducio.data.video_io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, VideoInfo, probe_video
from reducio.errors import ReducioError

# Written for the page: VP9 WebM plays in every Chromium (Debian's has no H.264 decoder).
VIDEO_SUFFIX = ".webm"
CLIP_TYPES = list(VIDEO_EXTENSIONS)


class DemoInputError(ReducioError, ValueError):
    """An upload or a request the demo refuses; the message says what to change."""


def upload_path(value: Any, what: str) -> Path:
    """The file behind a Gradio upload value: a path, or the FileData (dict or object) an event
    with preprocess=False receives."""
    if isinstance(value, dict):
        value = value.get("path")
    elif value is not None and not isinstance(value, (str, Path)):
        value = getattr(value, "path", None)
    if not value:
        raise DemoInputError(f"upload {what} first")
    return Path(value)


def upload_name(value: Any) -> str:
    """The name the file had on the person's machine (for messages), else the stored name."""
    name = value.get("orig_name") if isinstance(value, dict) else getattr(value, "orig_name", None)
    return str(name or Path(str(upload_path(value, "a file"))).name)


def check_upload_size(path: Path, max_bytes: int) -> None:
    size = path.stat().st_size if path.is_file() else 0
    if size > max_bytes:
        raise DemoInputError(f"the upload is {size / 2**20:.1f} MB, over this demo's limit of "
                             f"{max_bytes / 2**20:.0f} MB; upload a shorter or smaller file")


def check_clip(path: Path, name: str, max_bytes: int, max_seconds: float, max_side: int) -> VideoInfo:
    """Size on disk, readable header, duration and frame size of an uploaded clip."""
    check_upload_size(path, max_bytes)
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        raise DemoInputError(f"{name} is not a video this demo reads; upload one of "
                             f"{', '.join(VIDEO_EXTENSIONS)}")
    info = _probe(path, name)
    if info.duration > max_seconds + 1e-6:
        raise DemoInputError(f"{name} lasts {info.duration:.1f} s, over this demo's limit of "
                             f"{max_seconds:g} s; trim it and upload it again")
    _check_side(info, name, max_side)
    return info


def check_image(path: Path, name: str, max_bytes: int, max_side: int) -> VideoInfo:
    check_upload_size(path, max_bytes)
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise DemoInputError(f"{name} is not an image this demo reads; upload one of "
                             f"{', '.join(IMAGE_EXTENSIONS)}")
    try:
        info = _probe(path, name)
    except DemoInputError as error:
        why = str(error).removeprefix(f"{name}: ")
        raise DemoInputError(f"{name} is not a readable image ({why})") from None
    _check_side(info, name, max_side)
    return info


def check_frame_size(image: torch.Tensor, video: torch.Tensor, name: str, tolerance: float = 0.01) -> None:
    """The edited frame (3, h, w) must have the clip's (3, T, H, W) aspect ratio (within 1 %, as
    the edit pipeline resizes such frames); another shape would stretch every edge."""
    h, w = image.shape[-2:]
    height, width = video.shape[-2:]
    if abs(h * width - w * height) > tolerance * height * w:
        raise DemoInputError(f"{name} is {w}x{h} pixels but the clip's frames are {width}x{height}: edit "
                             "the downloaded frame without cropping it or changing its shape")


class Workdir:
    """A private folder for the demo's results; files older than `max_age_s` are deleted as new
    ones are made, and the folder itself by `cleanup()` (Gradio copies results into its cache,
    which `delete_cache` cleans)."""

    def __init__(self, max_age_s: float, root: str | Path | None = None):
        self.path = Path(tempfile.mkdtemp(prefix="reducio-demo-", dir=root))
        self.max_age_s = max_age_s
        self._counter = itertools.count()

    def new_file(self, stem: str, suffix: str = VIDEO_SUFFIX) -> Path:
        self.prune()
        return self.path / f"{stem}-{int(time.time())}-{next(self._counter)}{suffix}"

    def prune(self) -> None:
        cutoff = time.time() - self.max_age_s
        for path in self.path.glob("*"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                pass

    def cleanup(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _probe(path: Path, name: str) -> VideoInfo:
    try:
        return probe_video(path)
    except ReducioError as error:
        # the message names the cached upload's path; name the file the person picked instead
        raise DemoInputError(str(error).replace(str(path), name)) from None


def _check_side(info: VideoInfo, name: str, max_side: int) -> None:
    if max(info.width, info.height) > max_side:
        raise DemoInputError(f"{name} is {info.width}x{info.height} pixels, over this demo's limit of "
                             f"{max_side} pixels a side; scale it down and upload it again")
