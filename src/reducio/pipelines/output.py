"""What the generation pipelines return, and the conversions behind `output_type`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from reducio.data.transforms import unit_to_uint8

OUTPUT_TYPES = ("pt", "np", "pil", "latent")


@dataclass
class ReducioPipelineOutput:
    """The result of a generation call.

    - `frames`, by `output_type`:
      "pt": float tensor (B, 3, T, H, W) in [-1, 1] (the package's video convention;
      `reducio.data.write_video(path, frames[0])` writes one);
      "np": float32 array (B, T, H, W, 3) in [0, 1] (diffusers' convention);
      "pil": B lists of T PIL images;
      "latent": the motion latent (same tensor as `latents`), nothing decoded.
    - `latents`: (B, C, n * t, h, w) the motion latent of each generated window, concatenated in
      time (windows overlap in frames for long clips: see pipelines/long_video.py). This is the
      latent that was decoded, after the final `normalize_latent`.
    - `timings`: seconds per stage ("text_to_image", "conditions", "denoise", "decode", "total").
    - `images`: (B, 3, H, W) in [-1, 1], the content frame(s) of the first window (the input image,
      or stage 1's output in text-to-video).
    """

    frames: Any
    latents: torch.Tensor
    timings: dict[str, float] = field(default_factory=dict)
    images: torch.Tensor | None = None


def convert_frames(video: torch.Tensor, output_type: str) -> Any:
    """(B, 3, T, H, W) in [-1, 1] -> the representation `output_type` names (not "latent")."""
    video = video.float().clamp(-1.0, 1.0)
    if output_type == "pt":
        return video
    if output_type == "np":
        return ((video + 1.0) / 2.0).permute(0, 2, 3, 4, 1).cpu().numpy().astype(np.float32)
    if output_type == "pil":
        from PIL import Image

        frames = unit_to_uint8(video).permute(0, 2, 3, 4, 1).cpu().numpy()       # B T H W 3
        return [[Image.fromarray(frame) for frame in clip] for clip in frames]
    raise ValueError(f"unknown output_type {output_type!r}; valid: {OUTPUT_TYPES}")


__all__ = ["OUTPUT_TYPES", "ReducioPipelineOutput", "convert_frames"]
