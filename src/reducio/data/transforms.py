"""Spatial transforms for video frames: size checks, crop boxes, antialiased resizing.

Every transform is split in two steps: choosing a crop box in *source* pixels (cheap, needs only
the frame size) and applying it to a frame (crop, then resize to the output size). Readers pick
the box once per clip and apply it to each decoded frame, so one random crop is shared by all
frames (as the release's RandomResizedCrop over a stacked clip) and full-resolution frames never
pile up in memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from reducio.errors import ShapeError

# The VAE downsamples space by 32 (ft4 / ft2), so every model-facing size is a multiple of 32.
SIZE_MULTIPLE = 32


@dataclass(frozen=True, kw_only=True)
class CropBox:
    """A crop in source pixels followed by a resize to (out_height, out_width)."""

    top: int
    left: int
    height: int
    width: int
    out_height: int
    out_width: int


def parse_size(size: int | tuple[int, int] | list[int] | None, multiple: int = SIZE_MULTIPLE) -> tuple[int, int] | None:
    """Normalise `size` (S or (H, W)) to (H, W); each side must be a positive multiple of `multiple`."""
    if size is None:
        return None
    if isinstance(size, (int, np.integer)):
        height = width = int(size)
    else:
        if len(size) != 2:
            raise ShapeError(f"size must be an int S or a pair (height, width), got {size!r}")
        height, width = (int(s) for s in size)
    for name, value in (("height", height), ("width", width)):
        if value <= 0 or value % multiple:
            lower = max(multiple, value // multiple * multiple)
            raise ShapeError(
                f"output {name} {value} is not a positive multiple of {multiple} (the VAE downsamples "
                f"space by {multiple}); use {lower} or {lower + multiple}"
            )
    return height, width


def center_crop_box(height: int, width: int, out_size: tuple[int, int]) -> CropBox:
    """Largest centred box with the output's aspect ratio: 'resize short side, then centre-crop'."""
    out_h, out_w = out_size
    scale = max(out_h / height, out_w / width)
    crop_h = min(height, max(1, round(out_h / scale)))
    crop_w = min(width, max(1, round(out_w / scale)))
    return CropBox(
        top=(height - crop_h) // 2, left=(width - crop_w) // 2, height=crop_h, width=crop_w,
        out_height=out_h, out_width=out_w,
    )


def stretch_box(height: int, width: int, out_size: tuple[int, int]) -> CropBox:
    """The whole frame resized to the output size (aspect ratio not kept)."""
    return CropBox(top=0, left=0, height=height, width=width, out_height=out_size[0], out_width=out_size[1])


def random_resized_crop_box(
    height: int,
    width: int,
    out_size: tuple[int, int],
    rng: np.random.Generator,
    scale: tuple[float, float] = (0.5, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> CropBox:
    """torchvision's RandomResizedCrop.get_params, drawn from a numpy Generator.

    The release applies RandomResizedCrop((256, 256), scale=(0.5, 1.0)) once per clip (docs/architecture.md §4.4);
    the area fraction and log-aspect are uniform, ten tries, then a centre crop clamped to `ratio`.
    """
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return CropBox(top=top, left=left, height=h, width=w, out_height=out_size[0], out_width=out_size[1])
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        w, h = width, height
    return CropBox(
        top=(height - h) // 2, left=(width - w) // 2, height=h, width=w,
        out_height=out_size[0], out_width=out_size[1],
    )


def apply_box(frame: np.ndarray, box: CropBox | None) -> torch.Tensor:
    """Crop and resize one uint8 frame (H, W, 3) -> float (3, h, w) in [0, 255].

    Bilinear with antialias (the default of torchvision's Resize on tensors, which the release
    used): downscaling averages over the footprint instead of aliasing.
    """
    if box is not None:
        frame = frame[box.top : box.top + box.height, box.left : box.left + box.width]
    image = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).float()  # 3 H W
    if box is None or (image.shape[1], image.shape[2]) == (box.out_height, box.out_width):
        return image
    image = F.interpolate(
        image[None], size=(box.out_height, box.out_width), mode="bilinear", antialias=True, align_corners=False
    )[0]
    return image.clamp_(0.0, 255.0)


def uint8_to_unit(video: torch.Tensor) -> torch.Tensor:
    """[0, 255] (any dtype) -> float32 in [-1, 1]."""
    return video.float().div_(127.5).sub_(1.0)


def unit_to_uint8(video: torch.Tensor) -> torch.Tensor:
    """float in [-1, 1] -> uint8 [0, 255], rounded (values outside the range are clamped)."""
    return ((video.detach().float().clamp(-1.0, 1.0) + 1.0) * 127.5).round_().to(torch.uint8)


def resize_video(video: torch.Tensor, size: int | tuple[int, int], crop: str = "center") -> torch.Tensor:
    """Resize + centre-crop (or stretch) a float video (3, T, H, W) in [-1, 1] to `size` (multiple of 32)."""
    out_size = parse_size(size)
    if video.ndim != 4 or video.shape[0] != 3:
        raise ShapeError(f"expected a video (3, T, H, W), got shape {tuple(video.shape)}")
    _, _, height, width = video.shape
    box = _box_for(crop, height, width, out_size)
    frames = video[:, :, box.top : box.top + box.height, box.left : box.left + box.width]
    frames = frames.permute(1, 0, 2, 3).float()  # T 3 h w
    if (box.height, box.width) != out_size:
        frames = F.interpolate(frames, size=out_size, mode="bilinear", antialias=True, align_corners=False)
    return frames.permute(1, 0, 2, 3).clamp(-1.0, 1.0).contiguous()  # 3 T H W


def _box_for(crop: str, height: int, width: int, out_size: tuple[int, int]) -> CropBox:
    if crop == "center":
        return center_crop_box(height, width, out_size)
    if crop == "stretch":
        return stretch_box(height, width, out_size)
    raise ShapeError(f"crop must be 'center' or 'stretch', got {crop!r}")


def box_for(crop: str, height: int, width: int, size: int | tuple[int, int] | None) -> CropBox | None:
    """The per-frame box for `read_video(size=..., crop=...)`; None keeps frames as decoded."""
    out_size = parse_size(size)
    if out_size is None:
        return None
    return _box_for(crop, height, width, out_size)


def crop_to_multiple_box(height: int, width: int, multiple: int = SIZE_MULTIPLE) -> CropBox:
    """Centre crop (no resize) to the largest size whose sides are multiples of `multiple`."""
    out_h, out_w = height // multiple * multiple, width // multiple * multiple
    if out_h == 0 or out_w == 0:
        raise ShapeError(
            f"a {height}x{width} frame is smaller than {multiple} pixels on a side; pass a size "
            f"(e.g. --size {multiple * 2}) to upscale it"
        )
    return CropBox(top=(height - out_h) // 2, left=(width - out_w) // 2, height=out_h, width=out_w,
                   out_height=out_h, out_width=out_w)
