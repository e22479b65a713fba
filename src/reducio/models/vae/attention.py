"""Attention layers of Reducio-VAE: mid-block self-attention and content cross-attention.

Both use `F.scaled_dot_product_attention` (softmax(q k^T / sqrt(d)) v per head, the same math
as the release's xformers call). Heads split the channel axis head-major: `(h d)`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from reducio.errors import ShapeError
from reducio.models.vae.blocks import Checkpointable, conv_nd, normalize


def multihead_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                        heads: int) -> torch.Tensor:
    """q: (B, N, H*d), k/v: (B, M, H*d) -> (B, N, H*d)."""
    q, k, v = (rearrange(t, "b n (h d) -> b h n d", h=heads) for t in (q, k, v))  # B heads N|M d
    out = F.scaled_dot_product_attention(q, k, v)  # B heads N d
    return rearrange(out, "b h n d -> b n (h d)")   # B N H*d


def _pad_hw(x: torch.Tensor, window: tuple[int, int]) -> torch.Tensor:
    """Zero-pad the last two axes (H, W) at the end up to multiples of `window`."""
    pad_b = (window[0] - x.shape[-2] % window[0]) % window[0]
    pad_r = (window[1] - x.shape[-1] % window[1]) % window[1]
    return F.pad(x, (0, pad_r, 0, pad_b))  # ... H+pad_b W+pad_r


class MidSelfAttention(Checkpointable):
    """The release's `MemoryEfficientAttnBlock`: 8-head self-attention over all positions.

    GroupNorm -> 1x1 conv q, k, v -> attention over T*H*W tokens (order t, h, w) -> 1x1 conv
    `proj_out` -> residual on the un-normalised input. Windowed (per window_size x window_size
    spatial window, all frames) only when H*W > window_size**2. The release's 2D windowed branch is
    reproduced exactly; its 3D branch crashes (undefined `window_size_`, docs/architecture.md §7.7) and is
    implemented here as the 3D analogue of the 2D branch. Neither triggers for released models
    below 4096 px (3D) / 2048 px (2D, window 256) untiled input.
    """

    def __init__(self, channels: int, dims: int = 3, heads: int = 8,
                 window_size: int = 128) -> None:
        super().__init__()
        self.dims, self.heads, self.window = dims, heads, (window_size, window_size)
        self.norm = normalize(channels)
        self.q = conv_nd(dims, channels, channels, 1)
        self.k = conv_nd(dims, channels, channels, 1)
        self.v = conv_nd(dims, channels, channels, 1)
        self.proj_out = conv_nd(dims, channels, channels, 1)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)  # B C [T] H W
        height, width = x.shape[-2:]
        windowed = height * width > self.window[0] * self.window[1]
        if windowed:
            h = _pad_hw(h, self.window)  # B C [T] Hp Wp, multiples of the window
            padded = h.shape[-2:]
            # (b nh nw) c [t] w1 w2: each window is its own batch entry
            h = rearrange(h, "b c ... (nh w1) (nw w2) -> (b nh nw) c ... w1 w2",
                          w1=self.window[0], w2=self.window[1])
        shape = h.shape
        q, k, v = (rearrange(f(h), "b c ... -> b (...) c") for f in (self.q, self.k, self.v))  # b N c
        out = multihead_attention(q, k, v, self.heads)  # b N c, N = [t] h w
        out = out.transpose(1, 2).reshape(shape)        # b c [t] h w
        if windowed:
            out = rearrange(out, "(b nh nw) c ... w1 w2 -> b c ... (nh w1) (nw w2)",
                            nh=padded[0] // self.window[0], nw=padded[1] // self.window[1])  # B C [T] Hp Wp
            out = out[..., :height, :width]  # B C [T] H W
        return x + self.proj_out(out)        # B C [T] H W

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(self._forward, x)


class CrossAttention(nn.Module):
    """Video tokens attend to content-frame tokens (keys `to_q, to_k, to_v, to_out.0`).

    heads = max(D // 64, 1), head dim 64, no q/k/v bias. Windowing, exactly as the release: if
    the context has more than ws*ws positions AND the query plane has at least ws*ws, the context
    is zero-padded (right/bottom) to multiples of ws and cut into ws x ws windows, the query into
    windows of ceil(ws*H/Hc) x ceil(ws*W/Wc) (all T frames in a window), and window i of the video
    attends only to window i of the context. The zero-padded context positions stay in the
    softmax (their keys are 0, not masked), as in the release. Query padding is cropped.
    """

    def __init__(self, query_dim: int, context_dim: int, heads: int, dim_head: int = 64,
                 window_size: int = 128) -> None:
        super().__init__()
        inner = heads * dim_head
        self.heads, self.window = heads, (window_size, window_size)
        self.to_q = nn.Linear(query_dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, query_dim), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """x: (B, T, H, W, D) normalised video tokens; context: (B, Dc, Hc, Wc) -> (B, T, H, W, D)."""
        _, t, height, width, _ = x.shape
        hc, wc = context.shape[-2:]
        ws = self.window
        windowed = hc * wc > ws[0] * ws[1] and height * width >= ws[0] * ws[1]
        if windowed:
            context = _pad_hw(context, ws)  # B Dc Hcp Wcp
            ctx = rearrange(context, "b c (nh w1) (nw w2) -> (b nh nw) (w1 w2) c",
                            w1=ws[0], w2=ws[1])  # (B nh nw) ws² Dc
            wq = (math.ceil(ws[0] * height / hc), math.ceil(ws[1] * width / wc))
            xq = _pad_hw(rearrange(x, "b t h w d -> b d t h w"), wq)  # B D T Hp Wp
            nh, nw = xq.shape[-2] // wq[0], xq.shape[-1] // wq[1]
            xq = rearrange(xq, "b d t (nh w1) (nw w2) -> (b nh nw) (t w1 w2) d",
                           w1=wq[0], w2=wq[1])  # (B nh nw) T*wq0*wq1 D
            if xq.shape[0] != ctx.shape[0]:
                raise ShapeError(
                    f"windowed cross-attention needs as many video windows as content windows, "
                    f"got {xq.shape[0]} video windows for a {height}x{width} feature map and "
                    f"{ctx.shape[0]} content windows for {hc}x{wc}; use content frames whose size "
                    "matches the video (or the tiling settings used to encode the content)")
        else:
            xq = rearrange(x, "b t h w d -> b (t h w) d")     # B T*H*W D
            ctx = rearrange(context, "b c h w -> b (h w) c")  # B Hc*Wc Dc
        out = multihead_attention(self.to_q(xq), self.to_k(ctx), self.to_v(ctx), self.heads)  # B' N inner
        if windowed:
            out = rearrange(out, "(b nh nw) (t w1 w2) d -> b t (nh w1) (nw w2) d",
                            nh=nh, nw=nw, t=t, w1=wq[0])  # B T Hp Wp inner
            out = out[:, :, :height, :width]          # B T H W inner
        else:
            out = rearrange(out, "b (t h w) d -> b t h w d", t=t, h=height)  # B T H W inner
        return self.to_out(out)                       # B T H W D
