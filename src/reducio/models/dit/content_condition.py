"""The content condition: the content image's SD-VAE latent as cross-attention tokens.

The paper's content encoder turns the content image into tokens that are concatenated with the
text and image-semantic tokens in cross-attention [paper, docs/architecture.md §5.1]. We keep the SD VAE
encoder frozen outside the model (`reducio.conditioning.SDVAEContentEncoder`) and embed its
latent here: (B, 4, H/8, W/8) -> scale 0.18215 -> 2x2 patches -> MLP -> (B, H/16, W/16, D) tokens,
plus 2D sin-cos positions in the video tokens' coordinates.

Efficient high-resolution condition (appendix Fig. 2, our reading, docs/dit-design.md): at 1024 px
the H/16 grid has 4,096 tokens. It is split into 4 interleaved sub-grids (every second row and
column, phase offsets (0,0), (0,1), (1,0), (1,1)), each H/32 x W/32, and block i cross-attends to
sub-grid i mod 4 only: every cross-attention sees a quarter of the tokens while any 4 consecutive
blocks see each content token exactly once (DeepStack-style stacking across layers).
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from reducio.errors import ShapeError
from reducio.models.dit.config import DiTConfig
from reducio.models.dit.embeddings import MLPProjection, content_pos_embed
from reducio.models.dit.patchify import patchify_2d

# Sub-grid k takes rows r::2 and columns c::2 of the content grid, (r, c) = SUBGRID_PHASES[k].
SUBGRID_PHASES: tuple[tuple[int, int], ...] = ((0, 0), (0, 1), (1, 0), (1, 1))


def subgrid_indices(grid_hw: tuple[int, int]) -> list[torch.Tensor]:
    """Flat raster indices (into the gh*gw grid) of the 4 interleaved sub-grids, in phase order."""
    gh, gw = grid_hw
    flat = torch.arange(gh * gw).reshape(gh, gw)                          # gh gw
    return [flat[r::2, c::2].reshape(-1) for r, c in SUBGRID_PHASES]      # 4 x (gh/2 gw/2)


def layer_content_indices(layer: int, grid_hw: tuple[int, int], split: bool) -> torch.Tensor:
    """Flat indices of the content tokens block `layer` cross-attends to (all of them unless split)."""
    if not split:
        return torch.arange(grid_hw[0] * grid_hw[1])
    return subgrid_indices(grid_hw)[layer % len(SUBGRID_PHASES)]


def split_content_tokens(grid_tokens: torch.Tensor) -> list[torch.Tensor]:
    """(B, gh, gw, D) -> 4 x (B, gh/2 * gw/2, D), the sub-grids in SUBGRID_PHASES order."""
    gh, gw = grid_tokens.shape[1:3]
    if gh % 2 or gw % 2:
        raise ShapeError(f"the content token grid {gh}x{gw} must have even sides to be split into "
                         "4 sub-grids (Fig. 2); use a video size that is a multiple of 32 or "
                         "content_split=False")
    return [rearrange(grid_tokens[:, r::2, c::2], "b h w d -> b (h w) d")  # B (gh/2 gw/2) D
            for r, c in SUBGRID_PHASES]


class ContentEmbedder(nn.Module):
    """Content latent (B, C, Hc, Wc) -> token grid (B, Hc/p, Wc/p, D) with positions."""

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        if config.content_channels is None:
            raise ValueError("ContentEmbedder needs config.content_channels")
        self.channels = config.content_channels
        self.patch = config.content_patch_size
        self.scale = config.content_scale
        self.dim = config.hidden_size
        self.base_size = config.pos_embed_base_size
        self.use_pos_embed = config.content_pos_embed
        self.split_threshold = config.content_split_threshold
        self.proj = MLPProjection(config.content_patch_dim, config.hidden_size)

    def check(self, content: torch.Tensor, latent_hw: tuple[int, int]) -> None:
        """Raise ShapeError unless content is (B, C, Hc, Wc) covering the same image as the latent."""
        if content.ndim != 4 or content.shape[1] != self.channels:
            raise ShapeError(f"content must be a (B, {self.channels}, H/8, W/8) latent "
                             f"(DiTConfig.content_channels={self.channels}), got shape "
                             f"{tuple(content.shape)}")
        hc, wc = content.shape[2:]
        h, w = latent_hw
        if hc % self.patch or wc % self.patch:
            raise ShapeError(f"content latent {hc}x{wc} must be a multiple of content_patch_size "
                             f"{self.patch}; encode a content image whose size is a multiple of 32")
        if hc * w != wc * h:
            raise ShapeError(f"content latent {hc}x{wc} and video latent {h}x{w} have different "
                             "aspect ratios; the content image must be the video's frame size")

    def should_split(self, grid_hw: tuple[int, int]) -> bool:
        """Fig. 2 rule: split when the full grid has more tokens than content_split_threshold."""
        return self.split_threshold is not None and grid_hw[0] * grid_hw[1] > self.split_threshold

    def forward(self, content: torch.Tensor, latent_hw: tuple[int, int],
                patch_hw: tuple[int, int]) -> torch.Tensor:
        """content: (B, C, Hc, Wc) unscaled latent; latent_hw: video latent (h, w); patch_hw: (ph, pw).

        Returns (B, Hc/p, Wc/p, D).
        """
        self.check(content, latent_hw)
        dtype = self.proj.linear_1.weight.dtype
        grid = patchify_2d(content.to(dtype) * self.scale, self.patch)     # B gh gw (C p p)
        tokens = self.proj(grid)                                            # B gh gw D
        if self.use_pos_embed:
            gh, gw = grid.shape[1:3]
            # float64 on the CPU (MPS has none); small: one row per content token
            pos = content_pos_embed(self.dim, (gh, gw), latent_hw, patch_hw, self.base_size)
            tokens = tokens + pos.to(device=tokens.device, dtype=dtype).reshape(1, gh, gw, self.dim)  # B gh gw D
        return tokens
