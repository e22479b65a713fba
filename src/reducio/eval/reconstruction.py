"""PSNR and SSIM of video reconstructions, computed the way the Reducio release does.

Both take videos `B 3 T H W` (or one clip `3 T H W`) in [-1, 1], clamp them to [-1, 1] (the
release clamps reconstructions before scoring, docs/architecture.md §4.5), map them to [0, 1] and return one
value per clip: the mean over frames of a per-frame score.

- PSNR per frame: -10 log10(MSE + 1e-8) over (C, H, W); identical frames give 80 dB (the release's
  epsilon; scikit-image would return infinity).
- SSIM per frame and channel: 11 x 11 Gaussian window (sigma 1.5), k1 0.01, k2 0.03, data range 1,
  population covariances; the map is averaged only where the window fits inside the frame, which
  is what scikit-image does when it crops (win - 1) / 2 pixels before averaging. Frames of 384 px
  and more (short side) are first average-pooled by f = max(1, round(min(H, W) / 256)) as in the
  release (Python's round: 640 px -> 2.5 -> 2). Below 384 px the result equals
  `skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=1, channel_axis=-1)` averaged over frames.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange

from reducio.errors import ShapeError

PSNR_EPS = 1e-8
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def as_video_batch(video: torch.Tensor, name: str = "video") -> torch.Tensor:
    """Return `B 3 T H W`; a single clip `3 T H W` gains a batch axis."""
    if not isinstance(video, torch.Tensor):
        raise ShapeError(f"{name} must be a torch.Tensor, got {type(video).__name__}")
    if video.ndim == 4:
        video = video.unsqueeze(0)
    if video.ndim != 5 or video.shape[1] != 3:
        raise ShapeError(
            f"{name} must have shape (B, 3, T, H, W) or (3, T, H, W) in [-1, 1], got {tuple(video.shape)}"
        )
    return video


def _pair(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = as_video_batch(a, "a"), as_video_batch(b, "b")
    if a.shape != b.shape:
        raise ShapeError(f"videos must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    dtype = torch.promote_types(a.dtype, torch.float32) if a.is_floating_point() else torch.float32
    # [-1, 1] -> [0, 1] after the release's clamp.
    a = (a.to(dtype).clamp(-1, 1) + 1) / 2
    b = (b.to(dtype).clamp(-1, 1) + 1) / 2
    return a, b


@torch.no_grad()
def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, one value per clip.

    Args:
        a, b: `B 3 T H W` (or `3 T H W`) in [-1, 1].
    Returns:
        `B` tensor: mean over frames of -10 log10(MSE + 1e-8), MSE on [0, 1] pixels.
    """
    a, b = _pair(a, b)
    mse = (a - b).pow(2).mean(dim=(1, 3, 4))  # B T
    return (-10 * torch.log10(mse + PSNR_EPS)).mean(dim=1)


def ssim_downscale_factor(height: int, width: int) -> int:
    """The release's pre-SSIM average-pool factor: max(1, round(min(H, W) / 256))."""
    return max(1, round(min(height, width) / 256))


def gaussian_kernel_1d(window: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    """Normalised 1D Gaussian taps (the same taps scipy's gaussian_filter uses for truncate 3.5)."""
    x = torch.arange(window, dtype=torch.float64) - (window - 1) / 2
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def _filter_valid(maps: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter keeping only positions where the window fits ('valid')."""
    channels = maps.shape[1]
    k = kernel.to(maps.dtype)
    maps = F.conv2d(maps, k.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)
    return F.conv2d(maps, k.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)


def ssim_frames_differentiable(
    a: torch.Tensor,
    b: torch.Tensor,
    window: int = SSIM_WINDOW,
    sigma: float = SSIM_SIGMA,
    data_range: float = 1.0,
) -> torch.Tensor:
    """`ssim_frames` with autograd on: the same numbers, usable as a training loss (1 - SSIM)."""
    if min(a.shape[-2:]) < window:
        raise ShapeError(
            f"SSIM needs frames of at least {window}x{window} pixels, got {tuple(a.shape[-2:])}"
        )
    n, c = a.shape[:2]
    x = rearrange(a, "n c h w -> (n c) 1 h w")
    y = rearrange(b, "n c h w -> (n c) 1 h w")
    stats = _filter_valid(torch.cat([x, y, x * x, y * y, x * y], dim=1), gaussian_kernel_1d(window, sigma))
    mu_x, mu_y, xx, yy, xy = stats.unbind(dim=1)  # (N C) h' w' each
    var_x = xx - mu_x * mu_x
    var_y = yy - mu_y * mu_y
    cov = xy - mu_x * mu_y
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    )
    per_plane = ssim_map.mean(dim=(-2, -1))  # (N C)
    return rearrange(per_plane, "(n c) -> n c", n=n, c=c).mean(dim=1)


def ssim_frames(a: torch.Tensor, b: torch.Tensor, **options: float) -> torch.Tensor:
    """SSIM of image pairs `N C H W` (already in [0, data_range]); returns `N` (mean over channels)."""
    with torch.no_grad():
        return ssim_frames_differentiable(a, b, **options)


@torch.no_grad()
def ssim(a: torch.Tensor, b: torch.Tensor, downscale: bool = True) -> torch.Tensor:
    """Structural similarity, one value per clip (mean over frames and channels).

    Args:
        a, b: `B 3 T H W` (or `3 T H W`) in [-1, 1].
        downscale: apply the release's average-pool by max(1, round(min(H, W) / 256)) first
            (a no-op below 384 px).
    Returns:
        `B` tensor in [-1, 1].
    """
    a, b = _pair(a, b)
    batch, _, frames = a.shape[:3]
    x = rearrange(a, "b c t h w -> (b t) c h w")
    y = rearrange(b, "b c t h w -> (b t) c h w")
    factor = ssim_downscale_factor(*x.shape[-2:]) if downscale else 1
    if factor > 1:
        x = F.avg_pool2d(x, kernel_size=factor)
        y = F.avg_pool2d(y, kernel_size=factor)
    per_frame = ssim_frames(x, y)  # (B T)
    return rearrange(per_frame, "(b t) -> b t", b=batch, t=frames).mean(dim=1)


def psnr_from_mse(mse: float) -> float:
    """The PSNR the release reports for one frame's MSE on [0, 1] pixels."""
    return -10 * math.log10(mse + PSNR_EPS)
