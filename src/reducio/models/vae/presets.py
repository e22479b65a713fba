"""Named Reducio-VAE configs: plain dicts of the fields that differ from VAEConfig's defaults
(`VAEConfig.preset(name)` builds the config), and the runtime settings a named model starts with.

The fields are data, not VAEConfig objects, so that config.py can read this table without an
import cycle.
"""

from __future__ import annotations

from typing import Any

_FT4: dict[str, Any] = {}  # the defaults: reducio_kl_ft4_fs32_z16_attn23.yaml, 16x256x256 -> 16x4x8x8
_FT2 = {"log2_time_downsample": 1}  # reducio_kl_ft2_fs32_z16_attn23.yaml: -> 16x8x8x8

# CPU-sized model for the built-in weights (trained on the synthetic shapes world, 16 x 64²).
# The release's structure (3D motion encoder, 2D content encoder of the middle frame, fusion decoder
# cross-attending to content features, layer-normed 16-channel latent at T/4 x H/32 x W/32) with
# the parity fixture's widths (ch 32, one res block per level, content ch 32, [1, 1, 2, 2]).
#
# Departure from the release (documented in docs/train-vae.md): `patch_size=4`, a space-to-depth
# input/output patch (as in LTX-Video's VAE). The clip and the content frame are pixel-unshuffled
# 4x4 -> 48 channels before the encoders and the decoder's output is pixel-shuffled back, so the
# encoder/decoder levels run at 16, 8, 4, 2 px instead of 64, 32, 16, 8, 4, 2 px: channel_mult
# (1, 2, 2, 2) replaces the release-shaped (1, 1, 2, 2, 2, 2) and drops its two full-resolution
# levels. The latent stays 16 x 4 x 2 x 2 for a 16 x 64 x 64 clip. Measured on 2 shared CPU cores
# (load average ~5, 1 thread), one training step of batch 2 x 16 x 64² (forward + backward):
# patch 1 (ch_mult (1,1,2,2,2,2)) ~15 s, patch 2 (1,2,2,2,2) ~4.8 s, patch 4 (this) ~1.3 s.
# Fusion: content features exist at 16, 8, 4, 2 px (+ mid at 2 px); decoder levels 0 (16 px) and
# 1 (8 px) cross-attend to the content features of the same resolution, i.e. at 1/4 and 1/8 of the
# image size, where the release fuses (its levels 2 and 3 of 256 px = 64 and 32 px), plus the mid
# block. window_size 32 is the release's 128 scaled with the resolution (64 px vs 256 px).
# `VAEConfig.content_skip` (add the content frame to the decoder output) is not part of the preset:
# the tiny-cpu recipe turns it on through `model.overrides` (docs/train-vae.md).
# ~4.2 M parameters.
_TINY = dict(
    frames=16,
    latent_channels=16,
    z_channels=16,
    log2_time_downsample=2,
    encoder_channels=32,
    decoder_channels=32,
    channel_mult=(1, 2, 2, 2),
    num_res_blocks=1,
    content_channels=32,
    content_channel_mult=(1, 1, 2, 2),
    content_num_res_blocks=1,
    fuse_levels=(0, 1, -1, -1),
    window_size=32,
    patch_size=4,
)

VAE_PRESETS: dict[str, dict[str, Any]] = {
    "ft4": _FT4,
    "ft2": _FT2,
    # the *_1024px.yaml configs: the same architecture and weights, used with tiling (below)
    "ft4-1024": _FT4,
    "ft2-1024": _FT2,
    "tiny": _TINY,
}

# Runtime settings (not architecture) that a model built from the preset name starts with:
# the release's 1024 px configs tile (320 px tiles, stride 256: ReducioVAE.enable_tiling()).
VAE_PRESET_RUNTIME: dict[str, dict[str, Any]] = {
    "ft4-1024": {"use_tiling": True},
    "ft2-1024": {"use_tiling": True},
}
