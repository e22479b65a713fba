"""Reading videos (mp4, webm, mov, mkv, gif, folders of png/jpg frames) with PyAV.

Every failure a user can cause (missing, empty, corrupt, too short, no video stream) raises
`VideoReadError` naming the file and the problem; no raw PyAV exception escapes this module.
Frames are decoded one at a time, selected by `reducio.data.sampling` and cropped/resized by
`reducio.data.transforms` as they arrive, so a long 4K file costs memory for the output only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch

from reducio.data import sampling as _sampling
from reducio.data.transforms import CropBox, apply_box, box_for
from reducio.data.video_write import side_by_side, to_uint8_frames, write_video  # noqa: F401  (one import site)
from reducio.errors import VideoReadError

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v", ".gif")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
# Frames of an image folder carry no timestamps; they are taken to be this many per second.
DEFAULT_FOLDER_FPS = 16.0
# Seeking costs a keyframe lookup; below this start time decoding from the top is as cheap.
_SEEK_AFTER_S = 2.0


@dataclass(frozen=True)
class VideoInfo:
    """What a file holds: average frame rate, frame count, frame size and duration in seconds."""

    fps: float
    num_frames: int
    width: int
    height: int
    duration: float


# ----------------------------------------------------------------------------------- public API


def probe_video(path: str | Path, folder_fps: float = DEFAULT_FOLDER_FPS) -> VideoInfo:
    """Read the header (and count packets when the container does not store a frame count)."""
    path = _check_path(path)
    if path.is_dir():
        images = list_images(path)
        height, width = _read_image(images[0]).shape[:2]
        return VideoInfo(folder_fps, len(images), width, height, len(images) / folder_fps)
    with _open(path) as (container, stream):
        fps = _stream_fps(stream)
        width, height = stream.codec_context.width, stream.codec_context.height
        num_frames = int(stream.frames or 0)
        try:
            if num_frames <= 0:
                num_frames = sum(1 for packet in container.demux(stream) if packet.size > 0)
        except av.error.FFmpegError as error:
            raise VideoReadError(f"{path}: corrupt video data while counting frames ({error})") from None
        duration = _stream_duration(container, stream)
        if duration is None or duration <= 0:
            duration = num_frames / fps if fps > 0 else 0.0
    if num_frames <= 0 or width <= 0 or height <= 0:
        raise VideoReadError(f"{path}: no decodable video frames (frames={num_frames}, size={width}x{height})")
    return VideoInfo(fps, num_frames, width, height, duration)


def read_comment(path: str | Path) -> str | None:
    """The container's "comment" tag (what `write_video(..., comment=)` stored), or None when the
    file has none, is a folder of frames, or cannot be opened."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with _open(path) as (container, _):
            tags = {key.lower(): value for key, value in container.metadata.items()}
    except VideoReadError:
        return None
    return tags.get("comment")


def read_video(
    path: str | Path,
    num_frames: int | None = None,
    fps: float | None = None,
    start: float = 0.0,
    size: int | tuple[int, int] | None = None,
    crop: str = "center",
    sampling: str = "nearest",
    box: CropBox | Callable[[int, int], CropBox] | None = None,
    folder_fps: float = DEFAULT_FOLDER_FPS,
) -> torch.Tensor:
    """Decode a clip as float (3, T, H, W) in [-1, 1].

    Args:
        path: a video file, or a folder of png/jpg frames (natural sort order, `folder_fps` per second).
        num_frames: clip length T; None = to the end of the file.
        fps: target frame rate; None = every source frame. See `reducio.data.sampling` for how
            source frames map to target times (`sampling="nearest"` or the release's `"stride"`).
        start: start time in seconds.
        size: S or (H, W), multiples of 32: resize (bilinear, antialiased) and crop; None = as decoded.
        crop: "center" (keep aspect ratio, centre crop) or "stretch" (resize the whole frame).
        box: an explicit crop box (e.g. a random crop from a dataset), or a function of the
            source (height, width) returning one; overrides size/crop.
    Raises:
        VideoReadError: missing, empty, corrupt or unreadable file, or fewer than `num_frames`
            frames from `start` at `fps`.
    """
    path = _check_path(path)
    _sampling.check_mode(sampling)
    if num_frames is not None and num_frames < 1:
        raise VideoReadError(f"{path}: num_frames must be at least 1, got {num_frames}")
    if start < 0:
        raise VideoReadError(f"{path}: start must be >= 0 seconds, got {start}")
    with _frame_source(path, start, folder_fps) as (src_fps, frame_size, frames):
        if box is None:
            box = box_for(crop, frame_size[0], frame_size[1], size)
        elif callable(box):
            box = box(*frame_size)
        chosen = _sampling.select_frames(
            frames, src_fps=src_fps, num_frames=num_frames, fps=fps, start=start, sampling=sampling
        )
        out: list[torch.Tensor] = []
        last_frame, last_image = None, None
        try:
            for frame in chosen:
                # Upsampling repeats a source frame: convert it once (identity, not id(): holding
                # the frame keeps its address from being reused by the next one).
                if frame is not last_frame:
                    last_frame, last_image = frame, apply_box(_to_rgb(frame, path), box)
                out.append(last_image)
        except _sampling.ClipTooShort as short:
            raise VideoReadError(
                f"{path}: too short: {short.got} frame(s) available from start {start:g}s at "
                f"{'source rate' if fps is None else f'{fps:g} fps'} ({sampling}), {num_frames} needed "
                f"(source {src_fps:g} fps); use a longer clip, fewer frames, a lower fps or an earlier start"
            ) from None
    if not out:
        raise VideoReadError(f"{path}: no frames at or after start {start:g}s")
    video = torch.stack(out, dim=1)  # 3 T H W in [0, 255]
    return video.div_(127.5).sub_(1.0)


def list_images(folder: str | Path) -> list[Path]:
    """Image files of a frame folder in natural order (frame_2 before frame_10)."""
    folder = Path(folder)
    images = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]
    if not images:
        raise VideoReadError(
            f"{folder}: folder holds no video frames ({', '.join(IMAGE_EXTENSIONS)}) and no videos"
        )
    return sorted(images, key=_natural_key)


def expand_inputs(spec: str | Path | list) -> list[Path]:
    """Clips named by a CLI argument: a file, a folder of videos, a folder of frames, or a glob.

    A folder holding video files gives those files (recursively, sorted); a folder holding only
    images is one clip (its frames).
    """
    if isinstance(spec, (list, tuple)):
        return [p for item in spec for p in expand_inputs(item)]
    text = str(spec)
    if any(ch in text for ch in "*?["):
        root = Path(text).anchor or "."
        pattern = text[len(root):] if Path(text).is_absolute() else text
        matches = sorted(Path(root).glob(pattern))
        if not matches:
            raise VideoReadError(f"{text}: the pattern matches no files")
        return [p for match in matches for p in expand_inputs(match)]
    path = _check_path(text)
    if path.is_file():
        return [path]
    videos = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
    if videos:
        return videos
    list_images(path)  # raises when the folder holds neither videos nor frames
    return [path]


# ------------------------------------------------------------------------------------ internals


def _check_path(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise VideoReadError(f"{path}: file not found")
    if path.is_file() and path.stat().st_size == 0:
        raise VideoReadError(f"{path}: file is empty (0 bytes)")
    return path


@contextmanager
def _open(path: Path):
    """Open a container and its first video stream, mapping PyAV errors to VideoReadError."""
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError, OSError) as error:
        raise VideoReadError(f"{path}: cannot open as a video ({_why(error)})") from None
    try:
        if not container.streams.video:
            raise VideoReadError(f"{path}: no video stream (streams: {[s.type for s in container.streams]})")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        yield container, stream
    finally:
        container.close()


@contextmanager
def _frame_source(path: Path, start: float, folder_fps: float):
    """(source fps, (H, W), iterator of (time, frame)) for a file or a frame folder."""
    if path.is_dir():
        images = list_images(path)
        first = _read_image(images[0])

        def folder_frames() -> Iterator[tuple[float, np.ndarray]]:
            yield 0.0, first
            for i, image in enumerate(images[1:], start=1):
                frame = _read_image(image)
                if frame.shape != first.shape:
                    raise VideoReadError(f"{image}: frame size {frame.shape[:2]} differs from {first.shape[:2]}")
                yield i / folder_fps, frame

        yield folder_fps, first.shape[:2], folder_frames()
        return
    with _open(path) as (container, stream):
        src_fps = _stream_fps(stream)
        if start > _SEEK_AFTER_S and stream.time_base is not None:
            try:
                offset = int(start / stream.time_base) + (stream.start_time or 0)
                container.seek(offset, stream=stream, backward=True, any_frame=False)
            except av.error.FFmpegError:
                container.seek(0, stream=stream)
        size = (stream.codec_context.height, stream.codec_context.width)
        yield src_fps, size, _decode(path, container, stream, src_fps)


def _decode(path: Path, container, stream, src_fps: float) -> Iterator[tuple[float, av.VideoFrame]]:
    origin = float((stream.start_time or 0) * stream.time_base) if stream.time_base else 0.0
    count = 0
    try:
        for frame in container.decode(stream):
            time = frame.time - origin if frame.time is not None else count / max(src_fps, 1e-6)
            count += 1
            yield time, frame
    except av.error.FFmpegError as error:
        if count == 0:
            raise VideoReadError(f"{path}: corrupt or undecodable video data ({_why(error)})") from None
        raise VideoReadError(f"{path}: corrupt video data after frame {count} ({_why(error)})") from None
    if count == 0:
        raise VideoReadError(f"{path}: no decodable video frames")


def _to_rgb(frame, path: Path | None = None) -> np.ndarray:
    """H W 3 uint8. Grey, palette and 16-bit frames are converted; transparent pixels are refused,
    because dropping the alpha channel would show whatever colour hides under them."""
    if isinstance(frame, np.ndarray):
        return frame
    fmt = frame.format
    if len(fmt.components) in (2, 4) or fmt.has_palette:  # grey+alpha, RGBA / YUVA, palette (may hold alpha)
        rgba = frame.to_ndarray(format="rgba")
        alpha = rgba[..., 3]
        if alpha.min() < 255:
            raise VideoReadError(
                f"{path or 'frame'}: has transparent pixels ({fmt.name}, {100 * float((alpha < 255).mean()):.0f}% "
                "of them); reducio reads RGB and would show the hidden colours: flatten it onto a background "
                "first (e.g. `magick in.png -background black -flatten out.png`)")
        return np.ascontiguousarray(rgba[..., :3])
    return frame.to_ndarray(format="rgb24")  # H W 3 uint8


def _read_image(path: Path) -> np.ndarray:
    if path.stat().st_size == 0:
        raise VideoReadError(f"{path}: image file is empty (0 bytes)")
    with _open(path) as (container, stream):
        try:
            for frame in container.decode(stream):
                return _to_rgb(frame, path)
        except av.error.FFmpegError as error:
            raise VideoReadError(f"{path}: corrupt image ({_why(error)})") from None
    raise VideoReadError(f"{path}: image holds no decodable frame")


def _stream_fps(stream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    return DEFAULT_FOLDER_FPS


def _stream_duration(container, stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000  # av.time_base is 1/1e6
    return None


def _why(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error)
    return re.sub(r"\s+", " ", text).strip() or type(error).__name__


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]

