"""Reducio-VAE: an image-conditioned 3D VAE (paper section 3; docs/architecture.md §2).

A 3D encoder compresses a clip window into a tiny motion latent; the decoder rebuilds the window
from that latent plus multi-scale features of one content frame (the middle one) computed by a 2D
encoder. Top-level module names (`encoder_3d, encoder_2d, decoder, quant_conv, post_quant_conv`)
and every sub-module name equal the release's, so its state dicts load strictly with no renaming.

Clips longer than `config.frames` (a multiple of it) are independent windows, exactly as the
release's latent extraction does: each window has its own content frame, its own latent
normalisation and is encoded/decoded on its own, one after the other (peak memory of one window).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Sequence, Union

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKLOutput
from diffusers.models.autoencoders.vae import AutoencoderMixin, DecoderOutput

from reducio.configs import coerce
from reducio.errors import ConfigError, ShapeError, VideoInputError
from reducio.models.modeling import ReducioModelMixin, takes_config
from reducio.models.vae.blocks import Conv3d
from reducio.models.vae.config import VAEConfig, content_frame_index
from reducio.models.vae.content_encoder import ContentEncoder
from reducio.models.vae.decoder import FusionDecoder
from reducio.models.vae.distribution import DiagonalGaussian
from reducio.models.vae.encoder import MotionEncoder
from reducio.models.vae.outputs import ContentFeatures, ReducioVAEOutput
from reducio.models.vae.pretrained import load_official_by_name, load_vae_file
from reducio.models.vae.official_config import (config_from_official_params, read_official_params,
                                                runtime_from_official_params)
from reducio.models.vae.presets import VAE_PRESET_RUNTIME
from reducio.models.vae.tiling import (DEFAULT_TILE_OVERLAP_FACTOR, DEFAULT_TILE_SAMPLE_MIN_SIZE,
                                       check_tile_settings, tiled_decode, tiled_encode_content,
                                       tiled_encode_video, tiling_triggered)

# The types of the runtime settings older configs hold (VAEConfig.RUNTIME_KEYS).
_RUNTIME_TYPES = {"use_tiling": bool, "tile_sample_min_size": int, "tile_overlap_factor": float,
                  "tile_width_too": bool, "gradient_checkpointing": bool}

ContentInput = Union[torch.Tensor, ContentFeatures, Sequence[Union[torch.Tensor, ContentFeatures]]]


class ReducioVAE(ReducioModelMixin, ModelMixin, AutoencoderMixin, ConfigMixin):
    """Reducio-VAE, a diffusers model. `ReducioVAE(VAEConfig.preset("ft4"))`,
    `ReducioVAE.from_config("tiny")` or `ReducioVAE.from_pretrained(folder_or_id)`; the default
    config is ft4 (models/modeling.py: the config system and strict loading)."""

    config_class = VAEConfig
    builtin_kind = "vae"
    preset_runtime = VAE_PRESET_RUNTIME
    _supports_gradient_checkpointing = True

    @takes_config(VAEConfig)
    def __init__(self, config: VAEConfig | str | None = None, **fields: Any) -> None:
        super().__init__()
        c, runtime = self._register_arch(config, fields)
        self.encoder_3d = MotionEncoder(c)
        if c.has_content:
            self.encoder_2d = ContentEncoder(c)
        self.decoder = FusionDecoder(c)
        self.quant_conv = Conv3d(2 * c.z_channels, 2 * c.latent_channels, kernel_size=1)
        self.post_quant_conv = Conv3d(c.latent_channels, c.z_channels, kernel_size=1)
        # runtime switches (not architecture: not in the config), set by enable_/disable_ methods
        self.use_slicing = False
        self.use_tiling = False
        self.tile_sample_min_size = DEFAULT_TILE_SAMPLE_MIN_SIZE
        self.tile_overlap_factor = DEFAULT_TILE_OVERLAP_FACTOR
        self.tile_width_too = False
        self.apply_runtime_settings(runtime)

    # ================================================================== loading
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike,
                        **kwargs: Any) -> ReducioVAE:
        """A folder, Hub id or built-in name ("tiny"), strictly (models/modeling.py); also an
        official `.ckpt` file, or "ft4"/"ft2"/"microsoft/Reducio-VAE" for the released weights
        (models/vae/pretrained.py)."""
        official = load_official_by_name(cls, pretrained_model_name_or_path, kwargs)
        if official is not None:
            return official
        return super().from_pretrained(pretrained_model_name_or_path, **kwargs)

    @classmethod
    def from_single_file(cls, path: str | os.PathLike, *, config: VAEConfig | str | None = None,
                         torch_dtype: torch.dtype | None = None,
                         device: torch.device | str | None = None) -> ReducioVAE:
        """The official Lightning `.ckpt` (or any file in the release's layout), or one of our
        single `.safetensors` files. Pickles are read `weights_only` first, then with a restricted
        unpickler that refuses, without running it, a pickle that would run code; ft4 / ft2 are
        detected from the shapes; every key is checked (models/vae/pretrained.py)."""
        return load_vae_file(cls, path, config=config, torch_dtype=torch_dtype, device=device)

    @classmethod
    def _config_from_official_yaml(cls, path: Path) -> tuple[VAEConfig, dict[str, Any]]:
        """The release's YAML: its architecture, and its tiling keys as runtime settings (applied
        with a notice naming `enable_tiling`)."""
        params = read_official_params(path)
        config = config_from_official_params(params, source=str(path))
        _, runtime = VAEConfig.split_runtime_keys(runtime_from_official_params(params),
                                                  source=str(path))
        return config, runtime

    # ================================================================== switches
    def enable_tiling(self, tile_sample_min_size: int | None = None,
                      tile_overlap_factor: float | None = None,
                      tile_width_too: bool | None = None) -> None:
        """Tile inputs whose height exceeds int(S * (1 + overlap)) (release rule; `tile_width_too`
        also checks the width). Arguments left None keep the current values (at first the
        release's: S = 256 px, overlap 0.25, height only)."""
        self._set_tiles(tile_sample_min_size, tile_overlap_factor, tile_width_too)
        self.use_tiling = True

    def disable_tiling(self) -> None:
        self.use_tiling = False

    def _set_tiles(self, size: int | None, overlap: float | None, width_too: bool | None) -> None:
        size = self.tile_sample_min_size if size is None else size
        overlap = self.tile_overlap_factor if overlap is None else overlap
        check_tile_settings(size, overlap, self.arch.space_downsample)
        self.tile_sample_min_size, self.tile_overlap_factor = size, float(overlap)
        if width_too is not None:
            self.tile_width_too = bool(width_too)

    def apply_runtime_settings(self, settings: Mapping[str, Any]) -> None:
        """Set the switches that older config files and the release's YAML hold as keys
        (`VAEConfig.RUNTIME_KEYS`), or that a named preset starts with (ft4-1024 tiles)."""
        unknown = sorted(set(settings) - set(VAEConfig.RUNTIME_KEYS))
        if unknown:
            raise ConfigError(f"unknown ReducioVAE runtime setting(s) {unknown}; valid: "
                              f"{sorted(VAEConfig.RUNTIME_KEYS)}")
        typed = {key: coerce(value, _RUNTIME_TYPES[key], key) for key, value in settings.items()}
        self._set_tiles(typed.get("tile_sample_min_size"), typed.get("tile_overlap_factor"),
                        typed.get("tile_width_too"))
        if "use_tiling" in typed:
            self.use_tiling = typed["use_tiling"]
        if typed.get("gradient_checkpointing"):
            self.enable_gradient_checkpointing()

    # ================================================================== sizes
    @property
    def spatial_compression_ratio(self) -> int:
        """H, W -> H / ratio (32 for the release)."""
        return self.arch.space_downsample

    @property
    def temporal_compression_ratio(self) -> int:
        """T -> T / ratio (4 for ft4, 2 for ft2)."""
        return self.arch.time_downsample

    @property
    def latent_channels(self) -> int:
        """Channels C of the motion latent (B, C, t, h, w): 16 for the release."""
        return self.arch.latent_channels

    @property
    def num_frames(self) -> int:
        """Frames per clip window; longer clips are independent windows of this many frames."""
        return self.arch.frames

    def content_frame_index(self, num_frames: int) -> int:
        """Index of the content frame of a `num_frames`-frame window: the middle one, the lower
        middle for an even count (`reducio.models.vae.config.content_frame_index`). Paper Table 3:
        middle >> random >> none."""
        return content_frame_index(num_frames)

    def latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        """(C, t, h, w) of the latent of a frames x height x width clip (frames: k * config.frames)."""
        self._check_sizes(frames, height, width)
        c = self.arch
        return (c.latent_channels, frames // c.time_downsample,
                height // c.space_downsample, width // c.space_downsample)

    def _check_sizes(self, frames: int, height: int, width: int) -> None:
        f, s = self.arch.frames, self.arch.space_downsample
        if frames < 1 or frames % f:
            lo, hi = max(frames // f, 1) * f, max(math.ceil(frames / f), 1) * f
            raise ShapeError(
                f"got {frames} frames; Reducio-VAE takes clips of a multiple of {f} frames "
                f"(processed as {f}-frame windows): trim to {lo} or pad to {hi} frames")
        if height < s or width < s or height % s or width % s:
            raise ShapeError(
                f"height and width must be positive multiples of {s} (the spatial factor), got "
                f"{height}x{width}; resize or crop, e.g. to "
                f"{max(height // s, 1) * s}x{max(width // s, 1) * s}")

    def _check_video(self, video: torch.Tensor) -> torch.Tensor:
        c = self.arch
        if not isinstance(video, torch.Tensor) or video.ndim != 5:
            raise ShapeError(f"video must be a (B, {c.in_channels}, T, H, W) tensor, got "
                             f"{_describe(video)}; add the batch axis with video[None]")
        if video.shape[1] != c.in_channels:
            raise ShapeError(f"video must have {c.in_channels} channels on axis 1 (B, C, T, H, W), "
                             f"got shape {tuple(video.shape)}; permute (B, T, C, H, W) inputs "
                             "with video.permute(0, 2, 1, 3, 4)")
        self._check_sizes(*video.shape[2:])
        return video.to(self.dtype)

    def _check_image(self, image: torch.Tensor) -> torch.Tensor:
        c = self.arch
        if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[1] != c.in_channels:
            raise ShapeError(f"content image must be a (B, {c.in_channels}, H, W) tensor, got "
                             f"{_describe(image)}")
        self._check_sizes(c.frames, *image.shape[2:])
        return image.to(self.dtype)

    def _check_latent(self, latent: torch.Tensor) -> torch.Tensor:
        c = self.arch
        if not isinstance(latent, torch.Tensor) or latent.ndim != 5 \
                or latent.shape[1] != c.latent_channels:
            raise ShapeError(f"latent must be a (B, {c.latent_channels}, t, h, w) tensor, got "
                             f"{_describe(latent)}")
        t = latent.shape[2]
        if t < 1 or t % c.latent_frames:
            raise ShapeError(f"latent has {t} frames; it must be a multiple of {c.latent_frames} "
                             f"(one {c.frames}-frame window = {c.latent_frames} latent frames)")
        return latent.to(self.dtype)

    def _tiled(self, height: int, width: int) -> bool:
        return tiling_triggered(height, width, enabled=self.use_tiling,
                                sample_size=self.tile_sample_min_size,
                                overlap=self.tile_overlap_factor, width_too=self.tile_width_too)

    def _tile_kwargs(self) -> dict:
        return {"sample_size": self.tile_sample_min_size, "overlap": self.tile_overlap_factor}

    # ================================================================== encode
    def encode(self, video: torch.Tensor, return_dict: bool = True
               ) -> AutoencoderKLOutput | tuple[DiagonalGaussian]:
        """video: (B, 3, T, H, W) in [-1, 1], T a multiple of `num_frames`, H, W multiples of 32.

        Returns AutoencoderKLOutput(latent_dist) over (B, C, T / 4, H / 32, W / 32) (ft4); windows
        are concatenated along time. `latent_dist` is a 5-D `DiagonalGaussian` (its KL sums over
        C, t, h, w). Take `.mode()` or `.sample(generator)` and pass it through
        `normalize_latent` before `decode`. With `enable_slicing()` samples are encoded one by one.
        """
        video = self._check_video(video)
        if self.use_slicing and video.shape[0] > 1:
            moments = torch.cat([self._encode_moments(v) for v in video.split(1)], dim=0)  # B 2C t h w
        else:
            moments = self._encode_moments(video)  # B 2C t h w
        dist = DiagonalGaussian(moments)
        return AutoencoderKLOutput(latent_dist=dist) if return_dict else (dist,)

    def _encode_moments(self, video: torch.Tensor) -> torch.Tensor:
        tiled = self._tiled(*video.shape[-2:])
        return torch.cat([self._encode_window(window, tiled)                     # B 2C t h w
                          for window in video.split(self.arch.frames, dim=2)], dim=2)

    def _encode_window(self, video: torch.Tensor, tiled: bool,
                       content: torch.Tensor | None = None) -> torch.Tensor:
        """video: one window (B, 3, frames, H, W); content: its content frame (B, 3, H, W), only
        used with encoder_residual (default: the middle frame)."""
        def encode(x: torch.Tensor) -> torch.Tensor:
            return self.quant_conv(self.encoder_3d(x))  # B 2C t h w

        if self.arch.encoder_residual:  # tiny only: the encoder sees the change from the frame
            if content is None:
                content = video[:, :, self.content_frame_index(video.shape[2])]  # B 3 H W
            video = video - content.unsqueeze(2)  # B 3 frames H W

        if tiled:
            return tiled_encode_video(encode, video, latent_size=self._latent_tile(),
                                      **self._tile_kwargs())
        return encode(video)

    def normalize_latent(self, z: torch.Tensor) -> torch.Tensor:
        """Parameter-free layer norm over (C, t, h, w) jointly, eps 1e-5, per sample and per
        window: the release's `F.layer_norm(z, z.shape[1:])`, the space the decoder (and the DiT)
        works in. `decode` expects its input normalised and does not repeat this step."""
        z = self._check_latent(z)
        windows = z.split(self.arch.latent_frames, dim=2)  # n x (B C t/n h w)
        out = [F.layer_norm(w, w.shape[1:], eps=1e-5) for w in windows]
        return out[0] if len(out) == 1 else torch.cat(out, dim=2)  # B C t h w

    # ================================================================== content
    def encode_content(self, image: torch.Tensor) -> ContentFeatures:
        """image: (B, 3, H, W) content frame in [-1, 1] -> ContentFeatures (tiled like the video
        of the same size would be). For long clips encode one content frame per window."""
        self._require_content()
        image = self._check_image(image)
        height, width = image.shape[-2:]
        if self._tiled(height, width):
            grid = tiled_encode_content(self.encoder_2d, image, **self._tile_kwargs())
            return ContentFeatures(grid=grid, tiled=True, image_size=(height, width), image=image)
        maps = tuple(self.encoder_2d(image))
        return ContentFeatures(grid=((maps,),), tiled=False, image_size=(height, width), image=image)

    def content_frames(self, video: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, 3, T, H, W) -> (B, 3, n_windows, H, W): the content frame of every window.

        The middle frame of each window (`content_frame_index`); with content_frame='random' and
        the module in training mode, a uniformly random frame per sample and window (paper
        Table 3 ablation).
        """
        self._require_content()
        f = self.arch.frames
        frames = []
        for window in video.split(f, dim=2):
            if self.arch.content_frame == "random" and self.training:
                device = generator.device if generator is not None else window.device
                idx = torch.randint(f, (window.shape[0],), generator=generator, device=device)
                frames.append(window[torch.arange(window.shape[0]), :, idx.to(window.device)])  # B 3 H W
            else:
                frames.append(window[:, :, self.content_frame_index(f)])  # B 3 H W
        return torch.stack(frames, dim=2)  # B 3 n_windows H W

    def _require_content(self) -> None:
        if not self.arch.has_content:
            raise VideoInputError("this Reducio-VAE was built with content_frame='none': it has no "
                                  "content encoder; call decode(latent, None)")

    # ================================================================== decode
    def decode(self, latent: torch.Tensor, content: ContentInput | None,
               return_dict: bool = True) -> DecoderOutput | tuple[torch.Tensor]:
        """latent: (B, C, t, h, w), already normalised (`normalize_latent`), t = n_windows *
        latent frames per window. content, one per window:
          - n_windows == 1: an image (B, 3, H, W) or `encode_content` output;
          - any n_windows: a tensor (B, 3, n_windows, H, W) (see `content_frames`) or a list of
            n_windows images / ContentFeatures;
          - None for a content_frame='none' model.
        H, W must equal 32h, 32w. Returns DecoderOutput(sample=(B, 3, T, H, W)). With
        `enable_slicing()` samples are decoded one by one (same output, less memory).
        """
        latent = self._check_latent(latent)
        if self.use_slicing and latent.shape[0] > 1:
            sample = torch.cat([self._decode(latent[b:b + 1], _content_of_sample(content, b))
                                for b in range(latent.shape[0])], dim=0)  # B 3 T H W
        else:
            sample = self._decode(latent, content)  # B 3 T H W
        return DecoderOutput(sample=sample) if return_dict else (sample,)

    def _decode(self, latent: torch.Tensor, content: ContentInput | None) -> torch.Tensor:
        n = latent.shape[2] // self.arch.latent_frames
        contents = self._split_content(content, n)
        windows = latent.split(self.arch.latent_frames, dim=2)  # n x (B C t/n h w)
        return self._stack_windows(lambda k: self._decode_window(windows[k], contents[k]), n)  # B 3 T H W

    def _split_content(self, content: ContentInput | None, n: int) -> list:
        if not self.arch.has_content:
            if content is not None:
                raise VideoInputError("this Reducio-VAE has no content encoder "
                                      "(content_frame='none'); pass content=None")
            return [None] * n
        if content is None:
            raise VideoInputError("decode needs the content frame (B, 3, H, W) or encode_content "
                                  "output; got None")
        if isinstance(content, torch.Tensor) and content.ndim == 5:
            items = list(content.unbind(2))
        elif isinstance(content, (torch.Tensor, ContentFeatures)):
            items = [content]
        else:
            items = list(content)
        if len(items) != n:
            raise ShapeError(f"the latent holds {n} window(s) of {self.arch.latent_frames} latent "
                             f"frames but {len(items)} content frame(s)/features were given; pass "
                             f"one per window, e.g. a (B, 3, {n}, H, W) tensor from content_frames")
        return items

    def _window_features(self, item, latent: torch.Tensor) -> ContentFeatures | None:
        if item is None:
            return None
        feats = item if isinstance(item, ContentFeatures) else self.encode_content(item)
        s = self.arch.space_downsample
        expected = (latent.shape[-2] * s, latent.shape[-1] * s)
        if tuple(feats.image_size) != expected:
            raise ShapeError(f"content frame is {feats.image_size[0]}x{feats.image_size[1]} but the "
                             f"latent decodes to {expected[0]}x{expected[1]}; use the frame of "
                             "the same clip")
        if feats.batch_size != latent.shape[0]:
            raise ShapeError(f"content batch {feats.batch_size} != latent batch {latent.shape[0]}")
        if feats.tiled != self._tiled(*expected):
            raise ShapeError(f"content features were encoded with tiling "
                             f"{'on' if feats.tiled else 'off'} but decoding this latent uses "
                             f"tiling {'off' if feats.tiled else 'on'}; encode the content with "
                             "the same tiling settings (or pass the image instead)")
        return feats

    def _decode_window(self, z: torch.Tensor, item) -> torch.Tensor:
        feats = self._window_features(item, z)
        if feats is not None:
            feats = feats.to(dtype=z.dtype)

        def decode(zt: torch.Tensor, maps) -> torch.Tensor:
            return self.decoder(self.post_quant_conv(zt), maps)  # B 3 T H W

        s = self.arch.space_downsample
        tiled = feats.tiled if feats is not None else self._tiled(z.shape[-2] * s, z.shape[-1] * s)
        if tiled:
            grid = None if feats is None else feats.grid
            out = tiled_decode(decode, z, grid, latent_size=self._latent_tile(),
                               **self._tile_kwargs())  # B 3 frames H W
        else:
            out = decode(z, None if feats is None else feats.maps)  # B 3 frames H W
        if self.arch.content_skip:  # tiny only: the decoder predicts the change from the frame
            if feats.image is None:
                raise VideoInputError("this Reducio-VAE adds the content frame to its output "
                                      "(content_skip): pass the content image, or features from "
                                      "this version's encode_content")
            out = out + feats.image.to(out.dtype).unsqueeze(2)  # B 3 T H W
        return out

    def _latent_tile(self) -> int:
        return int(self.tile_sample_min_size / self.arch.space_downsample)

    @staticmethod
    def _stack_windows(run_window, n: int) -> torch.Tensor:
        """Concatenate per-window outputs in time. Without autograd the result is preallocated and
        filled window by window so peak memory stays that of one window."""
        first = run_window(0)
        if n == 1:
            return first
        if torch.is_grad_enabled():
            return torch.cat([first] + [run_window(k) for k in range(1, n)], dim=2)  # B C n*t H W
        t = first.shape[2]
        out = first.new_empty((*first.shape[:2], n * t, *first.shape[3:]))  # B C n*t H W
        out[:, :, :t] = first
        del first
        for k in range(1, n):
            out[:, :, k * t:(k + 1) * t] = run_window(k)
        return out

    # ================================================================== forward
    def forward(self, video: torch.Tensor, sample_posterior: bool = False,
                generator: torch.Generator | None = None,
                content_keep: torch.Tensor | None = None, return_dict: bool = True
                ) -> ReducioVAEOutput | tuple[torch.Tensor, DiagonalGaussian, torch.Tensor]:
        """Reconstruct a clip: per window, content frame -> features, encode, z = mode (default) or
        sample (`sample_posterior=True`, what the release always does), normalise, decode.

        `content_keep` (B,) of 0/1 (training only, not in the release): content dropout; samples
        with 0 are decoded without their content frame (`ContentFeatures.masked`).

        Returns ReducioVAEOutput (a diffusers DecoderOutput): sample (B, 3, T, H, W), latent_dist
        over all windows, latent = the normalised latent that was decoded, (B, C, t, h, w).
        """
        video = self._check_video(video)
        tiled = self._tiled(*video.shape[-2:])
        f = self.arch.frames
        n = video.shape[2] // f
        moments, latents = [], []
        content = self.content_frames(video, generator) if self.arch.has_content else None

        def run_window(k: int) -> torch.Tensor:
            window = video[:, :, k * f:(k + 1) * f]  # B 3 f H W
            feats = None if content is None else self.encode_content(content[:, :, k])
            if feats is not None and content_keep is not None:
                feats = feats.masked(content_keep)
            dist = DiagonalGaussian(self._encode_window(
                window, tiled, None if content is None else content[:, :, k]))
            z = dist.sample(generator) if sample_posterior else dist.mode()  # B C t h w
            z = F.layer_norm(z, z.shape[1:], eps=1e-5)  # B C t h w
            moments.append(dist.moments)
            latents.append(z)
            return self._decode_window(z, feats)

        sample = self._stack_windows(run_window, n)
        dist, latent = DiagonalGaussian(torch.cat(moments, dim=2)), torch.cat(latents, dim=2)  # B C t h w
        if not return_dict:
            return sample, dist, latent
        return ReducioVAEOutput(sample=sample, latent_dist=dist, latent=latent)


def _content_of_sample(content: ContentInput | None, b: int) -> ContentInput | None:
    """Sample b of any accepted content input (batch slicing)."""
    if content is None:
        return None
    if isinstance(content, torch.Tensor):
        return content[b:b + 1]
    if isinstance(content, ContentFeatures):
        return content.select(b)
    return [_content_of_sample(item, b) for item in content]


def _describe(x) -> str:
    if isinstance(x, torch.Tensor):
        return f"a tensor of shape {tuple(x.shape)}"
    return f"a {type(x).__name__}"
