"""The fusion decoder (`decoder`): motion latent + content features -> video.

Order (release `FusionDecoder`, upsample_first=True, docs/architecture.md §2.4):
    conv_in -> mid.block_1 -> mid.fuse.0 (content feature [-1]) -> mid.attn_1 -> mid.block_2
    -> for level i = L-1 .. 0: block_1 res blocks -> fuse.0 (if fuse_levels[i] >= 0)
       -> block_2 res blocks -> upsample (i > 0; T too for the top f_t levels)
    -> GroupNorm, SiLU, conv_out. No output activation (unbounded; clamp for viewing).
`up` is indexed by level (up.0 = full resolution) although it runs from the last level down.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from reducio.models.vae.attention import MidSelfAttention
from reducio.models.vae.blocks import Conv3d, ResnetBlock, Upsample, depth_to_space, normalize
from reducio.models.vae.config import VAEConfig
from reducio.models.vae.fusion import ContentFusion


class CoordinateFeatures(nn.Module):
    """(B, D, T, H, W) features -> (1, 4k, 1, H, W) fixed map: sin and cos of pi * 2^j * y and x
    for j < k, with y, x at the pixel centres of [-1, 1]. No parameters."""

    def __init__(self, frequencies: int) -> None:
        super().__init__()
        self.frequencies = frequencies
        self.channels = 4 * frequencies

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        height, width = h.shape[-2:]
        y = (torch.arange(height, device=h.device, dtype=torch.float32) + 0.5) / height * 2 - 1
        x = (torch.arange(width, device=h.device, dtype=torch.float32) + 0.5) / width * 2 - 1
        yy, xx = torch.meshgrid(y, x, indexing="ij")  # H W
        scales = torch.pi * 2.0 ** torch.arange(self.frequencies, device=h.device)
        angles = torch.cat([yy[None] * scales[:, None, None], xx[None] * scales[:, None, None]])  # 2k H W
        feats = torch.cat([angles.sin(), angles.cos()])  # 4k H W
        return feats[None, :, None].to(h.dtype)          # 1 4k 1 H W


class FusionDecoder(nn.Module):
    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        n = len(config.channel_mult)
        f_t = config.log2_time_downsample
        fuse = config.has_content
        self.fuse_levels = config.fuse_levels if fuse else (-1,) * n
        content_widths = [config.content_channels * m for m in config.content_channel_mult]
        content_widths.append(content_widths[-1])  # the mid output keeps the last width
        # Release quirk (docs/architecture.md §7.2): conv_in uses ch * ch_mult[-1], the blocks ch_in * ch_mult.
        width_in = config.encoder_channels * config.channel_mult[-1]
        width = config.decoder_channels * config.channel_mult[-1]
        frames = config.latent_frames

        self.conv_in = Conv3d(config.z_channels, width_in, kernel_size=3, padding=1)
        # CoordConv-style position input (decoder_coords > 0, tiny only): a 1x1 projection of a
        # fixed Fourier coordinate map added after conv_in and before each level's res blocks.
        self.coords = CoordinateFeatures(config.decoder_coords) if config.decoder_coords else None
        self.coord_in = nn.ModuleList()
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(width_in, width, 3)
        self.mid.fuse = nn.ModuleList()
        if fuse and config.fuse_mid:
            self.mid.fuse.append(ContentFusion(width, content_widths[-1], frames,
                                               config.window_size))
        self.mid.attn_1 = MidSelfAttention(width, 3, config.mid_attention_heads,
                                           config.window_size)
        self.mid.block_2 = ResnetBlock(width, width, 3)

        if self.coords is not None:
            self.coord_in.append(nn.Conv3d(self.coords.channels, width_in, 1))
        levels: list[nn.Module] = []
        for i in reversed(range(n)):
            level = nn.Module()
            if self.coords is not None:
                level.coord_in = nn.Conv3d(self.coords.channels, width, 1)
            out = config.decoder_channels * config.channel_mult[i]
            level.block_1 = nn.ModuleList()
            for _ in range(config.num_res_blocks):
                level.block_1.append(ResnetBlock(width, out, 3))
                width = out
            level.fuse = nn.ModuleList()
            if self.fuse_levels[i] >= 0:
                level.fuse.append(ContentFusion(width, content_widths[self.fuse_levels[i]],
                                                frames, config.window_size))
            level.block_2 = nn.ModuleList(ResnetBlock(width, width, 3)
                                          for _ in range(config.num_res_blocks))
            temporal = i >= n - f_t
            level.upsample = Upsample(width, temporal=temporal) if i > 0 else nn.Identity()
            if temporal:
                frames *= 2
            levels.insert(0, level)
        self.up = nn.ModuleList(levels)
        self.norm_out = normalize(width)
        self.patch = config.patch_size  # 1 in the release: conv_out emits pixels directly
        self.conv_out = Conv3d(width, config.out_channels * self.patch**2, kernel_size=3,
                               padding=1)
        if config.content_skip:  # starts as "output = the content frame" (autoencoder adds it)
            nn.init.zeros_(self.conv_out.weight)
            nn.init.zeros_(self.conv_out.bias)

    def forward(self, z: torch.Tensor, content: Sequence[torch.Tensor] | None) -> torch.Tensor:
        """z: (B, z_channels, t, h, w) after post_quant_conv; content: the content encoder's list
        of feature maps (None only for a model built without content) -> (B, C_out, T, s h, s w),
        s = space_downsample (32 in the release)."""
        h = self.conv_in(z)  # B D_in t h w
        if self.coords is not None:
            h = h + self.coord_in[0](self.coords(h))  # B D_in t h w
        h = self.mid.block_1(h)  # B D t h w
        for block in self.mid.fuse:
            h = block(h, content[-1])  # B D t h w
        h = self.mid.block_2(self.mid.attn_1(h))  # B D t h w
        for i in reversed(range(len(self.up))):
            level = self.up[i]
            if self.coords is not None:
                h = h + level.coord_in(self.coords(h))
            for block in level.block_1:
                h = block(h)  # B D_i T_i H_i W_i
            for block in level.fuse:
                h = block(h, content[self.fuse_levels[i]])
            for block in level.block_2:
                h = block(h)
            h = level.upsample(h)  # B D_i T_i(x2) 2H_i 2W_i (none at level 0)
        h = self.conv_out(F.silu(self.norm_out(h)))  # B C_out p² T H/p W/p
        return depth_to_space(h, self.patch)         # B C_out T H W
