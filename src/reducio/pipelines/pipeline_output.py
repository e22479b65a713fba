"""What the Reducio pipelines return: diffusers' video output, plus the content frames.

`frames` follows diffusers' `output_type` conventions (`VideoProcessor.postprocess_video`), so
`diffusers.utils.export_to_video(out.frames[0], "out.mp4", fps=16)` writes a clip:

- "np" (default): float32 array (B, T, H, W, 3) in [0, 1];
- "pt": float tensor (B, T, 3, H, W) in [0, 1];
- "pil": B lists of T PIL images;
- "latent": the motion latent (B, C, n * t, h, w), nothing decoded. Decoding needs the content
  frame as well as the latent, so `content_frames` is always returned:
  `vae.decode(out.frames[:, :, :t], out.content_frames)` rebuilds the first window.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from diffusers.pipelines.ltx.pipeline_output import LTXPipelineOutput

OUTPUT_TYPES = ("np", "pt", "pil", "latent")


@dataclass
class ReducioPipelineOutput(LTXPipelineOutput):
    """`frames` as `output_type` says (above), and:

    - `content_frames`: (B, 3, H, W) in [-1, 1], the content frame of the first window (the input
      image, or stage 1's output in text-to-video): the VAE's content frame (7 of a 16-frame clip), or frame 0
      with `image_position="first"`.
    - `latents`: (B, C, n * t, h, w), the decoded motion latent of every window.
    - `timings`: seconds per stage ("text_to_image", "conditions", "denoise", "decode", "total").
    """

    content_frames: torch.Tensor | None = None
    latents: torch.Tensor | None = None
    timings: dict[str, float] = field(default_factory=dict)


__all__ = ["OUTPUT_TYPES", "ReducioPipelineOutput"]
