"""Writing videos with PyAV: mp4/mov/mkv (H.264), webm (VP9), gif, or a folder of PNG frames.

Lossy H.264 uses yuv420p, which every player reads but which halves the chroma resolution: at
64 px that visibly smears the flat colours of the synthetic world. `lossless=True` writes exact
RGB instead (checked by decoding: the pixels come back bit for bit):

| container | lossy | lossless |
|---|---|---|
| .mp4 .mov .m4v | libx264 yuv420p crf 18 | libx264rgb rgb24 crf 0 (not every player opens it) |
| .mkv | libx264 yuv420p crf 18 | FFV1 bgr0 |
| .webm | libvpx-vp9 yuv420p crf 32 | libvpx-vp9 gbrp lossless=1 |
| .gif | one 256-colour palette for the clip | exact when the clip has at most 256 colours |
| folder (no suffix) | PNG frames (always exact) | same |
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from reducio.data.transforms import unit_to_uint8
from reducio.errors import ShapeError, VideoWriteError

_H264 = {"lossy": ("libx264", "yuv420p", {"crf": "18", "preset": "medium"}),
         "lossless": ("libx264rgb", "rgb24", {"crf": "0", "preset": "medium"})}
_CODECS: dict[str, dict[str, tuple[str, str, dict[str, str]]]] = {
    ".mp4": _H264,
    ".mov": _H264,
    ".m4v": _H264,
    ".mkv": {"lossy": _H264["lossy"], "lossless": ("ffv1", "bgr0", {})},
    ".webm": {"lossy": ("libvpx-vp9", "yuv420p", {"crf": "32", "b": "0"}),
              "lossless": ("libvpx-vp9", "gbrp", {"lossless": "1"})},
}
WRITABLE_SUFFIXES = (*_CODECS, ".gif", "(none: a folder of PNG frames)")
# x264's macroblock-tree rate control made 64 px clips non-deterministic: the same frames gave a
# different file in 14 of 40 encodes in one process (up to 42 levels apart after decoding), while
# 128 and 256 px clips gave one file in 30. Below this side it is off, so a seed gives one file.
_X264_MBTREE_MIN_SIDE = 128


def to_uint8_frames(video: torch.Tensor | np.ndarray) -> np.ndarray:
    """A float video (3, T, H, W) in [-1, 1] or uint8 frames (T, H, W, 3) -> uint8 (T, H, W, 3)."""
    if isinstance(video, np.ndarray):
        video = torch.from_numpy(video)
    if video.dtype == torch.uint8:
        if video.ndim != 4 or video.shape[-1] != 3:
            raise ShapeError(f"uint8 frames must be (T, H, W, 3), got shape {tuple(video.shape)}")
        return np.ascontiguousarray(video.cpu().numpy())
    if video.ndim != 4 or video.shape[0] != 3:
        raise ShapeError(
            f"a float video must be (3, T, H, W) in [-1, 1], got shape {tuple(video.shape)}; "
            "drop the batch dimension (video[0]) or pass uint8 (T, H, W, 3) frames"
        )
    return np.ascontiguousarray(unit_to_uint8(video).permute(1, 2, 3, 0).cpu().numpy())  # T H W 3


def write_video(path: str | Path, video: torch.Tensor | np.ndarray, fps: float = 16, lossless: bool = False,
                comment: str | None = None) -> Path:
    """Write a video; the container follows the suffix (see the module table). Returns the path.

    Args:
        video: float (3, T, H, W) in [-1, 1] (clamped) or uint8 (T, H, W, 3).
        fps: frame rate stored in the file.
        lossless: exact RGB (H.264 RGB, FFV1, VP9 lossless); otherwise yuv420p for players.
        comment: stored as the container's "comment" tag (`read_comment` reads it back) in
            .mp4 .mov .m4v .mkv .webm; GIFs and PNG folders have no place for it.
    """
    path = Path(path)
    frames = to_uint8_frames(video)
    if fps <= 0:
        raise VideoWriteError(f"{path}: fps must be positive, got {fps}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise VideoWriteError(f"{path}: cannot create the folder ({error})") from None
    suffix = path.suffix.lower()
    if suffix == "":
        return _write_png_folder(path, frames)
    if suffix == ".gif":
        return _encode(path, frames, fps, "gif", "pal8", {}, palette=True)  # GIF keeps no comment
    if suffix not in _CODECS:
        raise VideoWriteError(
            f"{path}: cannot write {suffix!r} videos; use one of {', '.join(WRITABLE_SUFFIXES)}"
        )
    codec, pix_fmt, options = _CODECS[suffix]["lossless" if lossless else "lossy"]
    if codec == "libx264" and min(frames.shape[1:3]) < _X264_MBTREE_MIN_SIDE:
        options = {**options, "x264-params": "mbtree=0"}
    if pix_fmt == "yuv420p" and (frames.shape[1] % 2 or frames.shape[2] % 2):
        raise VideoWriteError(
            f"{path}: yuv420p needs an even frame size, got {frames.shape[1]}x{frames.shape[2]}; "
            "pass lossless=True (--lossless) or crop to an even size"
        )
    return _encode(path, frames, fps, codec, pix_fmt, options, comment=comment)


def side_by_side(*videos: torch.Tensor, gap: int = 4, gap_value: float = 1.0) -> torch.Tensor:
    """Concatenate float videos (3, T, H, W) left to right with a `gap`-pixel separator."""
    if len(videos) < 2:
        raise ShapeError(f"side_by_side needs at least two videos, got {len(videos)}")
    first = videos[0]
    for i, video in enumerate(videos):
        if video.ndim != 4 or video.shape[0] != 3 or video.shape[1:3] != first.shape[1:3]:
            raise ShapeError(
                f"side_by_side: video {i} has shape {tuple(video.shape)}; all must be (3, T, H, W) "
                f"with the same T and H as video 0 {tuple(first.shape)}"
            )
    parts: list[torch.Tensor] = []
    for i, video in enumerate(videos):
        if i and gap > 0:
            parts.append(first.new_full((3, first.shape[1], first.shape[2], gap), gap_value))
        parts.append(video.to(first.dtype))
    return torch.cat(parts, dim=3)  # 3 T H sum(W)


# ------------------------------------------------------------------------------------ internals


def _encode(path: Path, frames: np.ndarray, fps: float, codec: str, pix_fmt: str,
            options: dict[str, str], palette: bool = False, comment: str | None = None) -> Path:
    _, height, width, _ = frames.shape
    rate = Fraction(fps).limit_denominator(1001)
    try:
        container = av.open(str(path), mode="w")
    except (av.error.FFmpegError, OSError) as error:
        raise VideoWriteError(f"{path}: cannot open for writing ({error})") from None
    # No random segment ids or encoder-version strings in the header: same frames, same bytes.
    container.flags |= av.container.Flags.bitexact.value
    if comment is not None:
        container.metadata["comment"] = comment
    try:
        stream = container.add_stream(codec, rate=rate, options=dict(options))
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if palette:
            indices, argb = _palettize(frames)
            images = [av.VideoFrame.from_ndarray((index, argb), format="pal8") for index in indices]
        else:
            images = (av.VideoFrame.from_ndarray(frame, format="rgb24") for frame in frames)
        for image in images:
            for packet in stream.encode(image):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    except (av.error.FFmpegError, ValueError) as error:
        container.close()
        path.unlink(missing_ok=True)
        raise VideoWriteError(f"{path}: encoding with {codec} failed ({error})") from None
    container.close()
    return path


def _write_png_folder(folder: Path, frames: np.ndarray) -> Path:
    """Frames as frame_00000.png, ...; frames of an earlier, longer clip in the same folder are
    removed, so that reading the folder back gives this clip and nothing after it. Other files
    are left alone."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        _encode(folder / f"frame_{i:05d}.png", frame[None], 1, "png", "rgb24", {})
    for stale in folder.glob("frame_*.png"):
        index = stale.stem.removeprefix("frame_")
        if len(index) == 5 and index.isdigit() and int(index) >= len(frames):
            stale.unlink()
    return folder


def _palettize(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One palette for the whole clip: exact if <= 256 colours, else the 256 most common
    5-bit-per-channel cells (their mean colours) with nearest-colour mapping."""
    packed = (frames[..., 0].astype(np.int32) << 16) | (frames[..., 1].astype(np.int32) << 8) | frames[..., 2]
    colours, inverse = np.unique(packed, return_inverse=True)
    if len(colours) <= 256:
        rgb = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], axis=1)
        indices = inverse.reshape(packed.shape).astype(np.uint8)
    else:
        cells = ((frames >> 3).astype(np.int32) * np.array([1024, 32, 1])).sum(-1)  # 15-bit cell
        counts = np.bincount(cells.ravel(), minlength=32768)
        sums = np.stack([np.bincount(cells.ravel(), frames[..., c].ravel(), 32768) for c in range(3)], 1)
        top = np.argsort(-counts)[:256]
        top = top[counts[top] > 0]
        rgb = (sums[top] / counts[top, None]).round()
        centres = np.stack([(np.arange(32768) >> s) & 31 for s in (10, 5, 0)], 1) * 8 + 4
        lut = np.empty(32768, dtype=np.uint8)
        for lo in range(0, 32768, 4096):  # chunks keep the distance matrix small
            d = ((centres[lo : lo + 4096, None, :] - rgb[None]) ** 2).sum(-1)
            lut[lo : lo + 4096] = d.argmin(1)
        indices = lut[cells]
    argb = np.zeros((256, 4), dtype=np.uint8)
    argb[: len(rgb), 0] = 255
    argb[: len(rgb), 1:] = rgb.astype(np.uint8)
    return indices, argb
