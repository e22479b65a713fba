"""Content fusion: the decoder's cross-attention from video features to content-frame features.

The release's `BasicTransformerBlock` with norm_type='layer', pos_embed_mode='t', no gating, no
MLP, no conv shortcut (docs/architecture.md §2.1).
"""

from __future__ import annotations

import numpy as np
import torch
from einops import rearrange
from torch import nn

from reducio.models.vae.attention import CrossAttention
from reducio.models.vae.blocks import Checkpointable
from reducio.models.vae.config import CROSS_ATTENTION_HEAD_DIM


def sinusoid_table(length: int, dim: int) -> torch.Tensor:
    """(length, dim) float64 table: angle(p, j) = p / 10000**(2*(j//2)/dim); sin on even j, cos on
    odd j (interleaved, not concatenated halves). numpy float64, as the release computes it, so the
    float32 rounding of the stored table matches the checkpoints bit for bit."""
    pos = np.arange(length, dtype=np.float64)[:, None]  # length 1
    j = np.arange(dim)                                   # dim
    angle = pos / np.power(10000, 2 * (j // 2) / dim)    # length dim
    table = np.empty_like(angle)
    table[:, 0::2] = np.sin(angle[:, 0::2])
    table[:, 1::2] = np.cos(angle[:, 1::2])
    return torch.from_numpy(table)


class ContentFusion(Checkpointable):
    """x <- x + PE(t); return x + CrossAttention(LayerNorm(x), context).

    The temporal PE is added to the residual stream itself (the output keeps it, docs/architecture.md §7.4) and the
    content features enter k/v without normalisation (docs/architecture.md §7.5).
    """

    def __init__(self, dim: int, context_dim: int, frames: int, window_size: int) -> None:
        super().__init__()
        # A frozen Parameter (not a buffer) because the release's checkpoints store it under
        # `pos_embed` and count it among the parameters.
        self.pos_embed = nn.Parameter(torch.empty(1, frames, 1, dim), requires_grad=False)
        heads = max(dim // CROSS_ATTENTION_HEAD_DIM, 1)
        self.attn = CrossAttention(dim, context_dim, heads, CROSS_ATTENTION_HEAD_DIM, window_size)
        self.norm = nn.LayerNorm(dim)
        self.reset_pos_embed()

    @torch.no_grad()
    def reset_pos_embed(self) -> None:
        _, frames, _, dim = self.pos_embed.shape
        self.pos_embed.copy_(sinusoid_table(frames, dim)[None, :, None, :])

    def _forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        if x.shape[2] != self.pos_embed.shape[1]:
            raise ValueError(f"fusion block built for {self.pos_embed.shape[1]} frames got "
                             f"{x.shape[2]}")  # internal: the autoencoder windows the clip
        tokens = rearrange(x, "b d t h w -> b t h w d")                       # B T H W D
        tokens = tokens + self.pos_embed[:, :, :, None, :].to(tokens.dtype)  # B T H W D
        out = tokens + self.attn(self.norm(tokens), context.to(tokens.dtype))  # B T H W D
        return rearrange(out, "b t h w d -> b d t h w")                       # B D T H W

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """x: (B, D, T, H, W) video features; context: (B, Dc, Hc, Wc) content features."""
        return self._run(self._forward, x, context)
