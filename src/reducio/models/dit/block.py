"""The PixArt-alpha transformer block (adaLN-single) and the final layer.

One block: self-attention (full 3D, or spatial + temporal for "2d+1d") -> cross-attention to the
condition tokens -> MLP. The timestep enters as one shared (B, 6, D) modulation computed once per
forward (adaLN-single) plus a learned per-block `scale_shift_table`.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from reducio.models.dit.attention import Attention
from reducio.models.dit.config import DiTConfig


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x: (B, N, D); shift, scale: (B, D)."""
    return x * (1 + scale[:, None]) + shift[:, None]  # B N D


class FeedForward(nn.Module):
    """D -> mlp_ratio * D -> D with GELU(tanh), as PixArt."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))  # B N hidden -> B N D


class DiTBlock(nn.Module):
    """PixArt-alpha block over video tokens in (t, h, w) raster order."""

    def __init__(self, config: DiTConfig, cross_attention: bool) -> None:
        super().__init__()
        dim, heads = config.hidden_size, config.num_heads
        self.factorised = config.attention == "2d+1d"
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=config.norm_eps)
        self.attn = Attention(dim, heads)
        if self.factorised:
            # The extra temporal layer of Tab. 5's 2D+1D variant (OpenSora-STDiT style: it reuses
            # the block's attention modulation and its output projection starts at zero, so a
            # block initialised from an image model starts as that image block).
            self.norm_temporal = nn.LayerNorm(dim, elementwise_affine=False, eps=config.norm_eps)
            self.temporal_attn = Attention(dim, heads)
        self.cross_attn = Attention(dim, heads) if cross_attention else None
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=config.norm_eps)
        self.mlp = FeedForward(dim, config.mlp_hidden_size)
        # shift/scale/gate for attention, then for the MLP; added to the shared modulation.
        self.scale_shift_table = nn.Parameter(torch.zeros(6, dim))

    def forward(self, x: torch.Tensor, modulation: torch.Tensor, grid: tuple[int, int, int],
                context: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, N, D); modulation: (B, 6, D); grid: (t, h, w) tokens; context: (B, M, D); mask: (B, M)."""
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = (
            self.scale_shift_table[None] + modulation).unbind(1)          # each B D
        frames = grid[0]

        h = modulate(self.norm1(x), shift_msa, scale_msa)                 # B N D
        if self.factorised:
            h = rearrange(h, "b (t s) d -> (b t) s d", t=frames)           # (B t) (h w) D
            h = rearrange(self.attn(h), "(b t) s d -> b (t s) d", t=frames)  # B N D
            x = x + gate_msa[:, None] * h
            h = modulate(self.norm_temporal(x), shift_msa, scale_msa)
            h = rearrange(h, "b (t s) d -> (b s) t d", t=frames)           # (B h w) t D
            h = rearrange(self.temporal_attn(h), "(b s) t d -> b (t s) d", b=x.shape[0])  # B N D
            x = x + gate_msa[:, None] * h
        else:
            x = x + gate_msa[:, None] * self.attn(h)                       # full 3D attention

        if self.cross_attn is not None:
            # PixArt feeds the un-normalised stream to cross-attention and does not gate it.
            x = x + self.cross_attn(x, context, context_mask)             # B N D

        h = modulate(self.norm2(x), shift_mlp, scale_mlp)                 # B N D
        return x + gate_mlp[:, None] * self.mlp(h)                        # B N D


class FinalLayer(nn.Module):
    """LayerNorm -> timestep shift/scale -> linear to patch values (PixArt's T2IFinalLayer)."""

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        dim = config.hidden_size
        pt, ph, pw = config.patch_size
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=config.norm_eps)
        self.scale_shift_table = nn.Parameter(torch.zeros(2, dim))
        self.linear = nn.Linear(dim, config.out_channels * pt * ph * pw)

    def forward(self, x: torch.Tensor, t_emb: torch.Tensor) -> torch.Tensor:
        """x: (B, N, D); t_emb: (B, D) the timestep MLP output (before adaLN's SiLU + linear)."""
        shift, scale = (self.scale_shift_table[None] + t_emb[:, None]).unbind(1)   # B D
        return self.linear(modulate(self.norm(x), shift, scale))                    # B N patch
