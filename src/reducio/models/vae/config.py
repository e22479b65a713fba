"""Reducio-VAE architecture config.

Defaults equal the released `reducio_kl_ft4_fs32_z16_attn23.yaml` (docs/architecture.md §2). The release
stores its down-sampling factors as log2 exponents (`f_t: 2` means 4x in time); we keep the
exponent under an explicit `log2_` name and expose the factor as a property.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reducio.configs import Config, check_types, lookup_preset
from reducio.errors import ConfigError, ShapeError
from reducio.models.vae.presets import VAE_PRESETS

GROUPNORM_GROUPS = 32  # every Normalize() in the release is GroupNorm(32, C)
CROSS_ATTENTION_HEAD_DIM = 64  # BasicTransformerBlock(d_head=64) in the release
CONTENT_FRAME_CHOICES = ("middle", "random", "none")


def content_frame_index(window: int) -> int:
    """The content frame of a `window`-frame clip window: its middle frame, (window - 1) // 2, the
    lower middle for an even count (frame 7 of the 16-frame window). Paper §3.1; Table 3: middle
    >> random >> none. The one definition: everything else asks the VAE, its config or this."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ShapeError(f"a clip window has at least 1 frame, got {window!r}")
    return (window - 1) // 2


def content_frame_indices(num_frames: int, window: int) -> list[int]:
    """The content frame of each `window`-frame window of a `num_frames`-frame clip (a whole number
    of windows): [7, 23] for 32 frames in windows of 16."""
    if num_frames < window or num_frames % window:
        raise ShapeError(f"a clip of {num_frames} frames is not a whole number of {window}-frame windows")
    return [start + content_frame_index(window) for start in range(0, num_frames, window)]


@dataclass(frozen=True, kw_only=True)
class VAEConfig(Config):
    """Reducio-VAE architecture. Defaults match the released ft4 checkpoint.

    Field <- official key (`model.params` / `ddconfig` / `ddconfig_2d`):

    - `frames` <- ddconfig.temp_res: frames per clip window. Longer clips are processed as
      independent windows of this many frames (each with its own content frame).
    - `latent_channels` <- embed_dim; `z_channels` <- ddconfig.z_channels (encoder output before
      `quant_conv`, decoder input after `post_quant_conv`).
    - `log2_time_downsample` <- ddconfig.f_t (a log2 exponent: 2 -> T/4).
      The spatial factor is not a field: it is 2**(len(channel_mult) - 1), as in the release.
    - `encoder_channels` <- ddconfig.ch, `decoder_channels` <- ddconfig.ch_in (the decoder's
      `conv_in` width is `encoder_channels * channel_mult[-1]`, a release quirk, docs/architecture.md §7.2),
      `channel_mult`, `num_res_blocks` (shared by the 3D encoder and the decoder).
    - `content_channels`, `content_channel_mult`, `content_num_res_blocks` <- ddconfig_2d.
    - `fuse_levels` <- ddconfig.ch_fuse: decoder level i cross-attends to content feature
      fuse_levels[i] (-1: no fusion). `fuse_mid`: a cross-attention block in the decoder middle
      attending to the content encoder's mid output.
    - `window_size` <- ddconfig.window_size (cross-attention / 3D mid self-attention windows);
      `content_window_size` <- ddconfig_2d.window_size (2D mid self-attention; release default 256).
    - `mid_attention_heads`: heads of the mid self-attention blocks (hard-coded 8 in the release).
    - `content_frame`: "middle" (the release: frame `content_frame_index(frames)` of each
      window), "random" (a random frame per sample while training, the middle one in eval; paper
      Table 3 ablation) or "none" (no content encoder and no fusion blocks; paper Table 3 "n/a").
    - `patch_size` (not in the release; default 1 = the release): space-to-depth patch of the
      input. With p > 1 the clip and the content frame are pixel-unshuffled (p x p pixels -> p²·3
      channels) before the encoders' `conv_in`, and the decoder's `conv_out` emits p²·3 channels
      that are pixel-shuffled back (as LTX-Video's VAE does). The levels then run at 1/p of the
      resolution: the spatial factor is p * 2**(len(channel_mult) - 1). Used by the CPU-sized
      `tiny` preset only, to keep its latent H/32 x W/32 with one level fewer at full resolution.
    - `content_skip` (not in the release; default False): add the content frame, repeated over
      time, to the decoder's output, whose `conv_out` then starts at zero: the decoder predicts
      the change from the content frame. A freshly initialised model thus starts at the
      content-copy reconstruction and spends its training on the motion. Used by `tiny` only.
    - `encoder_residual` (not in the release; default False): the 3D encoder sees the clip minus
      its content frame (repeated over time) instead of the clip. Nothing is lost (the decoder
      has the content frame) and the encoder's input is the motion alone, so from the first step
      its latent varies with the motion rather than with the static scene. Used by `tiny` only.
    - `decoder_coords` (not in the release; default 0 = off): number of Fourier frequencies of a
      fixed 2D coordinate map (sin/cos of pi * 2^k * y and x, coordinates in [-1, 1] over the
      decoded window) that a 1x1 convolution adds to the decoder's features at every level, as
      in CoordConv. Convolutions alone learn "draw the object at position p" slowly (they only
      see position through zero padding); a small model trained on CPU needs the help. Used by
      `tiny` only; with tiling the coordinates are per tile.

    Runtime switches are not architecture and live on the model: tiling
    (`ReducioVAE.enable_tiling(tile_sample_min_size=..., tile_overlap_factor=..., tile_width_too=...)`,
    `disable_tiling()`) and activation checkpointing (`enable_gradient_checkpointing()`). Older
    config.json files and the release's `model.params` hold them as keys (`RUNTIME_KEYS`): a model
    loaded from such a file applies them, with a logged notice naming the method that replaces each.
    """

    RUNTIME_KEYS = {
        "use_tiling": "ReducioVAE.enable_tiling() / disable_tiling()",
        "tile_sample_min_size": "ReducioVAE.enable_tiling(tile_sample_min_size=...)",
        "tile_overlap_factor": "ReducioVAE.enable_tiling(tile_overlap_factor=...)",
        "tile_width_too": "ReducioVAE.enable_tiling(tile_width_too=...)",
        "gradient_checkpointing": "ReducioVAE.enable_gradient_checkpointing()",
    }

    frames: int = 16
    in_channels: int = 3
    out_channels: int = 3
    latent_channels: int = 16
    z_channels: int = 16
    log2_time_downsample: int = 2
    encoder_channels: int = 128
    decoder_channels: int = 128
    channel_mult: tuple[int, ...] = (1, 2, 2, 4, 4, 4)
    num_res_blocks: int = 2
    content_channels: int = 128
    content_channel_mult: tuple[int, ...] = (1, 2, 4, 4)
    content_num_res_blocks: int = 2
    fuse_levels: tuple[int, ...] = (-1, -1, 2, 3, -1, -1)
    fuse_mid: bool = True
    window_size: int = 128
    content_window_size: int = 256
    mid_attention_heads: int = 8
    content_frame: Literal["middle", "random", "none"] = "middle"
    patch_size: int = 1
    content_skip: bool = False
    decoder_coords: int = 0
    encoder_residual: bool = False

    # ------------------------------------------------------------------ derived sizes
    @property
    def time_downsample(self) -> int:
        """Temporal compression factor (T -> T / time_downsample)."""
        return 2**self.log2_time_downsample

    @property
    def num_downsample_levels(self) -> int:
        """Stride-2 stages of the encoder: one per level but the last (the release's f_s)."""
        return len(self.channel_mult) - 1

    @property
    def log2_space_downsample(self) -> int:
        """log2 of the spatial factor: the encoder's stride-2 stages plus the input patch."""
        return self.num_downsample_levels + (self.patch_size.bit_length() - 1)

    @property
    def space_downsample(self) -> int:
        """Spatial compression factor (H, W -> H / space_downsample)."""
        return 2**self.log2_space_downsample

    @property
    def latent_frames(self) -> int:
        """Latent frames per `frames`-frame window."""
        return self.frames // self.time_downsample

    @property
    def content_frame_index(self) -> int:
        """The content frame of one window (7 for 16 frames); see `content_frame_index()`."""
        return content_frame_index(self.frames)

    @property
    def has_content(self) -> bool:
        """False for the content_frame='none' ablation (no 2D encoder, no fusion)."""
        return self.content_frame != "none"

    # ------------------------------------------------------------------ validation
    def __post_init__(self) -> None:
        check_types(self)
        errors: list[str] = []
        positive = ("frames", "in_channels", "out_channels", "latent_channels", "z_channels",
                    "encoder_channels", "decoder_channels", "num_res_blocks", "content_channels",
                    "content_num_res_blocks", "window_size", "content_window_size",
                    "mid_attention_heads", "patch_size")
        for name in positive:
            if getattr(self, name) < 1:
                errors.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if len(self.channel_mult) < 1 or any(m < 1 for m in self.channel_mult):
            errors.append(f"channel_mult must be non-empty positive ints, got {self.channel_mult}")
        if len(self.content_channel_mult) < 1 or any(m < 1 for m in self.content_channel_mult):
            errors.append("content_channel_mult must be non-empty positive ints, "
                          f"got {self.content_channel_mult}")
        if errors:
            raise ConfigError("invalid VAEConfig: " + "; ".join(errors))

        if self.patch_size & (self.patch_size - 1):
            errors.append(f"patch_size must be a power of 2 (1, 2, 4...), got {self.patch_size}")
        if not 0 <= self.log2_time_downsample <= self.num_downsample_levels:
            errors.append(f"log2_time_downsample must be in [0, len(channel_mult)-1 = "
                          f"{self.num_downsample_levels}], got {self.log2_time_downsample}")
        elif self.frames % self.time_downsample:
            errors.append(f"frames ({self.frames}) must be a multiple of the time downsample "
                          f"factor 2**log2_time_downsample = {self.time_downsample}")
        widths = {
            "encoder_channels * channel_mult": [self.encoder_channels * m
                                                for m in (1, *self.channel_mult)],
            "decoder_channels * channel_mult": [self.decoder_channels * m
                                                for m in self.channel_mult],
            "content_channels * content_channel_mult": [self.content_channels * m for m in
                                                        (1, *self.content_channel_mult)],
        }
        for what, chans in widths.items():
            bad = [c for c in chans if c % GROUPNORM_GROUPS]
            if bad:
                errors.append(f"{what} gives widths {chans}; GroupNorm needs multiples of "
                              f"{GROUPNORM_GROUPS} (bad: {bad})")
        mids = [self.encoder_channels * self.channel_mult[-1],
                self.decoder_channels * self.channel_mult[-1],
                self.content_channels * self.content_channel_mult[-1]]
        if any(c % self.mid_attention_heads for c in mids):
            errors.append(f"mid widths {mids} must be divisible by mid_attention_heads="
                          f"{self.mid_attention_heads}")
        if len(self.fuse_levels) != len(self.channel_mult):
            errors.append(f"fuse_levels needs one entry per decoder level "
                          f"({len(self.channel_mult)}), got {self.fuse_levels}")
        n_feats = len(self.content_channel_mult) + 1  # one per 2D level + the mid output
        if any(not -1 <= k < n_feats for k in self.fuse_levels):
            errors.append(f"fuse_levels entries must be -1 or a content feature index in "
                          f"[0, {n_feats - 1}], got {self.fuse_levels}")
        if self.content_frame not in CONTENT_FRAME_CHOICES:
            errors.append(f"content_frame must be one of {CONTENT_FRAME_CHOICES}, "
                          f"got {self.content_frame!r}")
        if self.decoder_coords < 0:
            errors.append(f"decoder_coords must be >= 0 (0 = off); got {self.decoder_coords}")
        if self.encoder_residual and not self.has_content:
            errors.append("encoder_residual=True subtracts the content frame; content_frame is "
                          "'none'")
        if self.encoder_residual and self.in_channels != 3:
            errors.append(f"encoder_residual needs RGB input (in_channels 3), got {self.in_channels}")
        if self.content_skip and not self.has_content:
            errors.append("content_skip=True needs a content frame; content_frame is 'none'")
        if self.in_channels != self.out_channels and self.content_skip:
            errors.append(f"content_skip adds the {self.in_channels}-channel content frame to the "
                          f"output: out_channels must equal in_channels, got {self.out_channels}")
        if errors:
            raise ConfigError("invalid VAEConfig: " + "; ".join(errors))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def preset(cls, name: str) -> VAEConfig:
        """Named configs: ft4, ft2, ft4-1024, ft2-1024 (release) and tiny (CPU-sized). The -1024
        names have ft4's / ft2's architecture; a model built from the name also tiles."""
        return cls(**lookup_preset(name, VAE_PRESETS, what="VAE"))
