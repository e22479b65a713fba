"""Cutting latents into patch tokens and back.

Token order is (t, h, w) raster order everywhere in the DiT: the 2D+1D attention and the position
embedding rely on it. Values inside a token are ordered (c, pt, ph, pw).
"""

from __future__ import annotations

import torch
from einops import rearrange

from reducio.errors import ShapeError


def check_patchable(latent: torch.Tensor, patch_size: tuple[int, int, int], channels: int) -> None:
    """Raise ShapeError unless latent is (B, channels, t, h, w) with t, h, w multiples of the patch."""
    if latent.ndim != 5:
        raise ShapeError(f"the DiT latent must be 5D (B, C, t, h, w), got shape {tuple(latent.shape)}")
    if latent.shape[1] != channels:
        raise ShapeError(f"the DiT latent must have {channels} channels (DiTConfig.in_channels), "
                         f"got {latent.shape[1]} in shape {tuple(latent.shape)}; pass latents of the "
                         "VAE this DiT was built for (models.compatibility.check_dit_fits_vae "
                         "checks a pair)")
    grid = latent.shape[2:]
    if any(n % p for n, p in zip(grid, patch_size)):
        raise ShapeError(f"latent (t, h, w) = {tuple(grid)} must be multiples of the patch size "
                         f"{tuple(patch_size)}; crop or pad the video so the latent divides")


def patchify(latent: torch.Tensor, patch_size: tuple[int, int, int]) -> torch.Tensor:
    """(B, C, t, h, w) -> (B, N, C*pt*ph*pw) with N = (t/pt)(h/ph)(w/pw)."""
    pt, ph, pw = patch_size
    return rearrange(latent, "b c (t pt) (h ph) (w pw) -> b (t h w) (c pt ph pw)",
                     pt=pt, ph=ph, pw=pw)  # B N C*pt*ph*pw


def unpatchify(tokens: torch.Tensor, patch_size: tuple[int, int, int],
               grid: tuple[int, int, int]) -> torch.Tensor:
    """(B, N, C*pt*ph*pw) -> (B, C, t, h, w); grid = (t, h, w) in tokens (t/pt, h/ph, w/pw)."""
    pt, ph, pw = patch_size
    gt, gh, gw = grid
    return rearrange(tokens, "b (t h w) (c pt ph pw) -> b c (t pt) (h ph) (w pw)",
                     t=gt, h=gh, w=gw, pt=pt, ph=ph, pw=pw)  # B C t h w


def patchify_2d(image_latent: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, H/p, W/p, C*p*p): the content latent as a grid of tokens."""
    return rearrange(image_latent, "b c (h p) (w q) -> b h w (c p q)", p=patch, q=patch)  # B H/p W/p Cpp
