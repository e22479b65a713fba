"""Named Reducio-VAE configs (plain dict of config objects, no registry magic)."""

from __future__ import annotations

from reducio.models.vae.config import VAEConfig

_FT4 = VAEConfig()  # reducio_kl_ft4_fs32_z16_attn23.yaml: 16x256x256 -> 16x4x8x8
_FT2 = VAEConfig(log2_time_downsample=1)  # reducio_kl_ft2_fs32_z16_attn23.yaml: -> 16x8x8x8

# CPU-sized model with the release's structure: the parity fixture's widths (ch 32, ch_mult
# [1,1,2,2,2,2], 2D [1,1,2,2], one res block per level) but 16 frames and 16 latent channels.
# window_size 32 is the release's 128 scaled with the resolution (tiny trains at 64 px where
# ft4 trains at 256 px), so windowed cross-attention starts at the same relative size.
# Roughly 5M parameters; encode + decode of 1x3x16x64x64 takes about a second on 2 CPU cores.
_TINY = VAEConfig(
    frames=16,
    latent_channels=16,
    z_channels=16,
    log2_time_downsample=2,
    encoder_channels=32,
    decoder_channels=32,
    channel_mult=(1, 1, 2, 2, 2, 2),
    num_res_blocks=1,
    content_channels=32,
    content_channel_mult=(1, 1, 2, 2),
    content_num_res_blocks=1,
    window_size=32,
    tile_sample_min_size=256,
)

VAE_PRESETS: dict[str, VAEConfig] = {
    "ft4": _FT4,
    "ft2": _FT2,
    # the *_1024px.yaml configs: same weights, spatial tiling on (320 px tiles, stride 256)
    "ft4-1024": _FT4.replace(use_tiling=True),
    "ft2-1024": _FT2.replace(use_tiling=True),
    "tiny": _TINY,
}
