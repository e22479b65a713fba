"""The 2D content encoder (`encoder_2d`): one content frame -> multi-scale feature maps.

Returns the release's `return_skip=True` list: the output of every level's res blocks (before
its downsample) and the mid output after `mid.attn_1`:
    [ch*m0 x H x W, ch*m1 x H/2 x W/2, ..., ch*m_last x H/2^k x W/2^k (mid)].
`mid.block_2` and `norm_out` exist (they are in the checkpoint) but the release discards their
output, so they are never run here (docs/architecture.md §7.8). There is no `conv_out` (Identity, no keys).
"""

from __future__ import annotations

import torch
from torch import nn

from reducio.models.vae.attention import MidSelfAttention
from reducio.models.vae.blocks import ResnetBlock, normalize, space_to_depth
from reducio.models.vae.config import VAEConfig
from reducio.models.vae.encoder import build_down_levels


class ContentEncoder(nn.Module):
    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        ch = config.content_channels
        self.patch = config.patch_size  # 1 in the release: no space-to-depth
        self.conv_in = nn.Conv2d(config.in_channels * self.patch**2, ch, kernel_size=3, padding=1)
        self.down, width = build_down_levels(ch, config.content_channel_mult,
                                             config.content_num_res_blocks, dims=2)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(width, width, 2)
        self.mid.attn_1 = MidSelfAttention(width, 2, config.mid_attention_heads,
                                           config.content_window_size)
        self.mid.block_2 = ResnetBlock(width, width, 2)  # loaded, never run
        self.norm_out = normalize(width)  # loaded, never run

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        """image: (B, C_in, H, W) -> len(content_channel_mult) + 1 feature maps (B, C_k, H_k, W_k),
        H_k = H / (patch_size 2^k)."""
        feats = []
        h = self.conv_in(space_to_depth(image, self.patch))  # B ch H/p W/p
        for level in self.down:
            for block in level.block:
                h = block(h)
            feats.append(h)  # B ch*m_i H/2^i W/2^i
            h = level.downsample(h)  # B ch*m_i H/2^(i+1) W/2^(i+1)
        feats.append(self.mid.attn_1(self.mid.block_1(h)))  # B ch*m_last H/2^k W/2^k
        return feats
