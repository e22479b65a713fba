"""The 3D motion encoder (`encoder_3d`): video -> 2 * z_channels moments at T/2^f_t x H/32 x W/32."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reducio.models.vae.attention import MidSelfAttention
from reducio.models.vae.blocks import Conv3d, Downsample, ResnetBlock, normalize, space_to_depth
from reducio.models.vae.config import VAEConfig


def build_down_levels(ch: int, ch_mult: tuple[int, ...], num_res_blocks: int, dims: int,
                      log2_time_downsample: int = 0) -> tuple[nn.ModuleList, int]:
    """`down.{i}.block.{j}` res blocks and `down.{i}.downsample` (all levels but the last).

    Level i widens to ch * ch_mult[i]. With L = len(ch_mult) levels, the last `f_t` downsamples
    (levels L-1-f_t .. L-2) also halve time; the earlier ones are spatial-only.
    Returns the levels and the final width.
    """
    levels = nn.ModuleList()
    c_in = ch
    n = len(ch_mult)
    for i, mult in enumerate(ch_mult):
        level = nn.Module()
        level.block = nn.ModuleList()
        for _ in range(num_res_blocks):
            level.block.append(ResnetBlock(c_in, ch * mult, dims))
            c_in = ch * mult
        level.attn = nn.ModuleList()  # empty in the release (attn_resolutions: []); no keys
        if i != n - 1:
            temporal = dims == 3 and i >= n - 1 - log2_time_downsample
            level.downsample = Downsample(c_in, dims, temporal=temporal)
        else:
            level.downsample = nn.Identity()
        levels.append(level)
    return levels, c_in


class MotionEncoder(nn.Module):
    """conv_in -> down levels -> mid (res, 8-head self-attention, res) -> GroupNorm, SiLU, conv_out."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        ch = config.encoder_channels
        self.patch = config.patch_size  # 1 in the release: no space-to-depth
        self.conv_in = Conv3d(config.in_channels * self.patch**2, ch, kernel_size=3, padding=1)
        self.down, width = build_down_levels(ch, config.channel_mult, config.num_res_blocks,
                                             dims=3,
                                             log2_time_downsample=config.log2_time_downsample)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(width, width, 3)
        self.mid.attn_1 = MidSelfAttention(width, 3, config.mid_attention_heads,
                                           config.window_size)
        self.mid.block_2 = ResnetBlock(width, width, 3)
        self.norm_out = normalize(width)
        self.conv_out = Conv3d(width, 2 * config.z_channels, kernel_size=3, padding=1)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """video: (B, C_in, T, H, W) -> (B, 2 z, T / 2^f_t, H / s, W / s), s = space_downsample."""
        h = self.conv_in(space_to_depth(video, self.patch))  # B ch T H/p W/p
        for level in self.down:
            for block in level.block:
                h = block(h)                                  # B ch*m_i T_i H_i W_i
            h = level.downsample(h)                           # B ch*m_i T_i(/2) H_i/2 W_i/2
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))  # B ch*m_last T/2^f_t H/s W/s
        return self.conv_out(F.silu(self.norm_out(h)))        # B 2z T/2^f_t H/s W/s
