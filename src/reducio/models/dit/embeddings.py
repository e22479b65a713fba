"""Timestep embedding, fixed sin-cos position embeddings and the PixArt projection MLP.

The formulas follow PixArt-alpha (as in diffusers) so that PixArt weights see the inputs they
were trained with: the timestep features are [cos, sin] of 256 frequencies, and the 2D position
embedding puts the column (w) coordinate in the first half of the channels and the row (h)
coordinate in the second (the MAE/PixArt meshgrid quirk).
"""

from __future__ import annotations

import math

import torch
from torch import nn


# ----------------------------------------------------------------------------- timestep
def timestep_embedding(timestep: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """(B,) float or int timesteps -> (B, dim) float32 [cos, sin] features (PixArt / DiT)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period)
                      * torch.arange(half, dtype=torch.float32, device=timestep.device) / half)
    args = timestep.float()[:, None] * freqs[None]          # B dim/2
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # B dim


class TimestepEmbedder(nn.Module):
    """Sinusoidal features -> MLP -> (B, D); PixArt's `t_embedder` (diffusers `timestep_embedder`)."""

    def __init__(self, hidden_size: int, freq_dim: int = 256) -> None:
        super().__init__()
        self.freq_dim = freq_dim
        self.linear_1 = nn.Linear(freq_dim, hidden_size)
        self.act = nn.SiLU()
        self.linear_2 = nn.Linear(hidden_size, hidden_size)

    def forward(self, timestep: torch.Tensor) -> torch.Tensor:
        features = timestep_embedding(timestep, self.freq_dim).to(self.linear_1.weight.dtype)  # B F
        return self.linear_2(self.act(self.linear_1(features)))      # B D


# ----------------------------------------------------------------------------- projections
class MLPProjection(nn.Module):
    """Linear -> GELU(tanh) -> Linear; PixArt's caption projection, reused for image tokens."""

    def __init__(self, in_features: int, hidden_size: int) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(in_features, hidden_size)
        self.act = nn.GELU(approximate="tanh")
        self.linear_2 = nn.Linear(hidden_size, hidden_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.act(self.linear_1(tokens)))  # ... in_features -> ... D


# ----------------------------------------------------------------------------- sin-cos positions
def sincos_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """(N,) positions -> (N, dim) float64 [sin, cos] with frequencies 1 / 10000^(k / (dim/2))."""
    omega = torch.arange(dim // 2, dtype=torch.float64, device=positions.device) / (dim / 2.0)
    omega = 1.0 / 10000**omega
    args = positions.to(torch.float64)[:, None] * omega[None]    # N dim/2
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)  # N dim


def sincos_2d(dim: int, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Per-token row and column positions (N,) -> (N, dim): [columns | rows] as PixArt does."""
    return torch.cat([sincos_1d(dim // 2, cols), sincos_1d(dim // 2, rows)], dim=1)  # N dim


def spatial_step(height: int, width: int, base_size: int | None) -> float:
    """Latent-grid units -> position units. PixArt rescales positions so a square grid spans
    `base_size` at every resolution; we use one step for both axes (B / sqrt(h w)) so the aspect
    ratio is kept (PixArt's per-axis rule would squash a 768x1344 grid into a square)."""
    if base_size is None:
        return 1.0
    return base_size / math.sqrt(height * width)


def video_pos_embed(dim: int, grid: tuple[int, int, int], patch_size: tuple[int, int, int],
                    base_size: int | None, device: torch.device | None = None) -> torch.Tensor:
    """Fixed 3D position embedding of the video tokens, (N, dim) float64, N = t*h*w in raster order.

    grid = (t, h, w) in tokens. Separable: 2D spatial sin-cos (PixArt) + 1D temporal sin-cos, summed;
    the temporal part is zero at frame 0, so a single frame gets exactly PixArt's embedding.
    """
    gt, gh, gw = grid
    pt, ph, pw = patch_size
    spatial = sincos_2d(dim, *video_positions((gh, gw), (ph, pw), base_size, device))  # (h w) D
    frames = torch.arange(gt, dtype=torch.float64, device=device) * pt
    # Minus the embedding of frame 0 (a constant, so frames stay distinguishable): frame 0 then
    # carries exactly PixArt's spatial embedding instead of PixArt's plus a large constant offset.
    temporal = sincos_1d(dim, frames) - sincos_1d(dim, frames[:1])            # t D
    return (temporal[:, None, :] + spatial[None, :, :]).reshape(gt * gh * gw, dim)  # (t h w) D


def video_positions(grid_hw: tuple[int, int], patch_hw: tuple[int, int], base_size: int | None,
                    device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column positions (gh*gw,) of the video tokens: their patch's top-left corner on the
    latent grid (PixArt's convention), times the spatial step."""
    gh, gw = grid_hw
    ph, pw = patch_hw
    step = spatial_step(gh * ph, gw * pw, base_size)
    rows = torch.arange(gh, dtype=torch.float64, device=device) * ph * step  # gh
    cols = torch.arange(gw, dtype=torch.float64, device=device) * pw * step  # gw
    rr, cc = torch.meshgrid(rows, cols, indexing="ij")                       # gh gw each
    return rr.reshape(-1), cc.reshape(-1)                                    # (gh gw) each


def content_positions(content_grid: tuple[int, int], latent_hw: tuple[int, int],
                      patch_hw: tuple[int, int], base_size: int | None,
                      device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column positions (gh*gw,) of content tokens in the video tokens' coordinates.

    The content grid covers the same image as the video latent (h, w), but finer. A token's
    position is its centre minus half a video patch, the rule that puts a video token at its
    top-left corner, so the content tokens under a video patch average to that patch's position.
    """
    gh, gw = content_grid
    h, w = latent_hw
    ph, pw = patch_hw
    step = spatial_step(h, w, base_size)
    rows = ((torch.arange(gh, dtype=torch.float64, device=device) + 0.5) * (h / gh) - 0.5 * ph) * step
    cols = ((torch.arange(gw, dtype=torch.float64, device=device) + 0.5) * (w / gw) - 0.5 * pw) * step
    rr, cc = torch.meshgrid(rows, cols, indexing="ij")  # gh gw each
    return rr.reshape(-1), cc.reshape(-1)               # (gh gw) each


def content_pos_embed(dim: int, content_grid: tuple[int, int], latent_hw: tuple[int, int],
                      patch_hw: tuple[int, int], base_size: int | None,
                      device: torch.device | None = None) -> torch.Tensor:
    """2D sin-cos of `content_positions`, (gh*gw, dim) float64."""
    return sincos_2d(dim, *content_positions(content_grid, latent_hw, patch_hw, base_size, device))
