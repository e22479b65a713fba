"""Multi-head attention on `F.scaled_dot_product_attention`, for self- and cross-attention.

Weight names (to_q, to_k, to_v, to_out) follow diffusers' `Attention` so that PixArt-alpha
weights map by renaming only (loading/pixart.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


class Attention(nn.Module):
    """Attention of x over itself or over a context, with an optional key mask (True = attend)."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(dim, dim)
        self.to_v = nn.Linear(dim, dim)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, N, D); context: (B, M, D) or None (self-attention); mask: (B, M) bool or None.

        Every row of `mask` must keep at least one key: the DiT guarantees it with its null tokens
        (a fully masked row would give NaN).
        """
        context = x if context is None else context
        q = rearrange(self.to_q(x), "b n (h d) -> b h n d", h=self.num_heads)         # B h N d
        k = rearrange(self.to_k(context), "b m (h d) -> b h m d", h=self.num_heads)   # B h M d
        v = rearrange(self.to_v(context), "b m (h d) -> b h m d", h=self.num_heads)   # B h M d
        attn_mask = None if mask is None else mask[:, None, None, :]           # B 1 1 M
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)    # B h N d
        return self.to_out(rearrange(out, "b h n d -> b n (h d)"))               # B N D
