"""Running a Reducio-VAE over whole clips: windows, padding, batching and compression factors.

The VAE reads clips in windows of `vae.config.frames` frames (16), each with its own content
frame and latent normalisation. A clip of any length is cut into windows, the last one padded by
repeating its final frame; windows are batched (`batch_size` per forward pass) and the padding
is cut off again after decoding. This is what `reducio reconstruct / encode / decode` run.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from einops import rearrange

from reducio.errors import ShapeError
from reducio.loading.sources import assets_root

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]  # called with the number of windows just processed


@dataclass(frozen=True)
class CompressionFactors:
    """How much smaller the motion latent is than the clip (content frame not counted)."""

    positions: float  # (T*H*W) / (t*h*w): 4096 for ft4 (4 x 32 x 32)
    values: float  # (3*T*H*W) / (C*t*h*w): 768 for ft4 (16 channels)
    latent_shape: tuple[int, int, int, int]  # C t h w of one window


def compression_factors(vae, height: int, width: int) -> CompressionFactors:
    """Factors for one window of `vae.config.frames` frames at height x width."""
    frames = vae.config.frames
    c, t, h, w = vae.latent_shape(frames, height, width)
    positions = frames * height * width / (t * h * w)
    return CompressionFactors(positions=positions, values=3 * positions / c, latent_shape=(c, t, h, w))


def split_windows(video: torch.Tensor, window: int) -> torch.Tensor:
    """(3, T, H, W) -> (n, 3, window, H, W), the last window padded with copies of the last frame."""
    if video.ndim != 4 or video.shape[0] != 3:
        raise ShapeError(f"expected one clip (3, T, H, W), got shape {tuple(video.shape)}")
    frames = video.shape[1]
    n = math.ceil(frames / window)
    if n * window > frames:
        pad = video[:, -1:].expand(-1, n * window - frames, -1, -1)
        video = torch.cat([video, pad], dim=1)
    return rearrange(video, "c (n t) h w -> n c t h w", t=window)


def join_windows(windows: torch.Tensor, frames: int) -> torch.Tensor:
    """(n, 3, window, H, W) -> (3, frames, H, W), dropping the padding."""
    return rearrange(windows, "n c t h w -> c (n t) h w")[:, :frames]


@torch.no_grad()
def reconstruct_clip(vae, video: torch.Tensor, batch_size: int = 1, sample_posterior: bool = False,
                     generator: torch.Generator | None = None, progress: Progress | None = None) -> torch.Tensor:
    """Encode and decode a clip (3, T, H, W) in [-1, 1]; returns float32 (3, T, H, W) on the CPU.

    The decoder output is clamped to [-1, 1], as the release does before scoring.
    """
    windows = split_windows(video, vae.config.frames)
    out = []
    for chunk in windows.split(batch_size):
        sample = vae(chunk.to(vae.device, vae.dtype), sample_posterior=sample_posterior, generator=generator).sample
        out.append(sample.float().clamp_(-1.0, 1.0).cpu())
        if progress is not None:
            progress(chunk.shape[0])
    return join_windows(torch.cat(out), video.shape[1])


@torch.no_grad()
def encode_clip(vae, video: torch.Tensor, batch_size: int = 1, sample_posterior: bool = False,
                generator: torch.Generator | None = None,
                progress: Progress | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per window: the normalised latent (n, C, t, h, w) and the content frame (n, 3, H, W).

    The latent is the posterior mode (or a sample) after `normalize_latent`, i.e. what `decode`
    takes; the content frame is the window's middle frame (`vae.content_frame_index`), as the
    decoder expects.
    """
    windows = split_windows(video, vae.config.frames)
    index = vae.content_frame_index(vae.config.frames)
    latents, contents = [], []
    for chunk in windows.split(batch_size):
        dist = vae.encode(chunk.to(vae.device, vae.dtype)).latent_dist
        z = dist.sample(generator) if sample_posterior else dist.mode()
        latents.append(vae.normalize_latent(z).float().cpu())
        contents.append(chunk[:, :, index].float().cpu())
        if progress is not None:
            progress(chunk.shape[0])
    return torch.cat(latents), torch.cat(contents)


@torch.no_grad()
def decode_windows(vae, latent: torch.Tensor, content: torch.Tensor, frames: int, batch_size: int = 1,
                   progress: Progress | None = None) -> torch.Tensor:
    """Decode per-window latents (n, C, t, h, w) with their content frames (n, 3, H, W) into a clip
    (3, frames, H, W) in [-1, 1] (float32, CPU)."""
    if latent.shape[0] != content.shape[0]:
        raise ShapeError(f"{latent.shape[0]} latent windows but {content.shape[0]} content frames")
    out = []
    for z, image in zip(latent.split(batch_size), content.split(batch_size)):
        sample = vae.decode(z.to(vae.device, vae.dtype), image.to(vae.device, vae.dtype)).sample
        out.append(sample.float().clamp_(-1.0, 1.0).cpu())
        if progress is not None:
            progress(z.shape[0])
    return join_windows(torch.cat(out), frames)


def weights_warning(vae, source: str) -> str | None:
    """A plain warning when the VAE's weights are a seeded random init rather than trained ones.

    Looks for `vae.is_random_init` (set by whoever builds the model) or `"trained": false` in a
    `metadata.json` beside the weights (built-in assets that ship untrained placeholder weights).
    """
    flagged = bool(getattr(vae, "is_random_init", False))
    candidates = []
    path = Path(source)
    if path.is_dir():
        candidates.append(path / "metadata.json")
    elif path.suffix:
        candidates.append(path.parent / "metadata.json")
    else:
        candidates.append(assets_root() / f"vae-{source}" / "metadata.json")
    for candidate in candidates:
        try:
            if candidate.is_file() and json.loads(candidate.read_text()).get("trained") is False:
                flagged = True
        except (OSError, ValueError) as error:
            logger.debug("cannot read %s: %s", candidate, error)
    if not flagged:
        return None
    return (f"WARNING: the VAE '{source}' has seeded random (untrained) weights: its reconstructions "
            "are not meaningful and the PSNR/SSIM below only check that the pipeline runs.")
