"""Image-content encoders: the SD VAE encoder (paper) and a small pooled-RGB stand-in.

The content latent is returned *unscaled*: the release's `extract_latent.py` saves the SD VAE
`latent_dist.sample()` without the 0.18215 factor (docs/architecture.md §7.16), and the DiT multiplies by its
`DiTConfig.content_scale` (0.18215 for the SD VAE, `scaling_factor` here) in its content embedder.
Latent shards extracted by us and by the release are therefore interchangeable, and the scale
travels with the model config.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from reducio.conditioning._hf import load_or_explain, place
from reducio.conditioning.base import ImageContentEncoder, check_image

SD_VAE_ID = "stabilityai/sd-vae-ft-ema"


class SDVAEContentEncoder(ImageContentEncoder):
    """The encoder half of a diffusers `AutoencoderKL` (SD VAE ft-EMA: 4 channels, H/8)."""

    def __init__(self, vae: torch.nn.Module) -> None:
        super().__init__()
        self.vae = vae
        config = vae.config
        self.channels = int(config.latent_channels)
        self.downsample = 2 ** (len(config.block_out_channels) - 1)
        self.scaling_factor = float(config.scaling_factor)
        self.freeze()

    @torch.no_grad()
    def encode(self, image: torch.Tensor, *, sample: bool = False,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """image: (B, 3, H, W) in [-1, 1] -> (B, 4, H/8, W/8) unscaled latent.

        sample=False: the posterior mode (deterministic; inference). sample=True: a posterior
        sample, what the release saved as `z_2d` for DiT training. The SD VAE's posterior std is
        tiny, so the two differ little.
        """
        check_image(image, self.downsample, "content image")
        dist = self.vae.encode(image.to(device=self.device, dtype=self.dtype)).latent_dist
        return dist.sample(generator=generator) if sample else dist.mode()  # B channels H/ds W/ds

    @classmethod
    def from_pretrained(cls, path_or_id: str | os.PathLike = SD_VAE_ID, *,
                        subfolder: str | None = None, torch_dtype: torch.dtype | None = None,
                        device: torch.device | str | None = None,
                        local_files_only: bool = False) -> SDVAEContentEncoder:
        """Load an AutoencoderKL folder / hub id (e.g. stabilityai/sd-vae-ft-ema, or an SD
        pipeline with subfolder="vae")."""
        from diffusers import AutoencoderKL  # only this loader needs the SD VAE class

        dtype_kwargs = {"torch_dtype": torch_dtype} if torch_dtype is not None else {}
        vae = load_or_explain(lambda: AutoencoderKL.from_pretrained(
            path_or_id, subfolder=subfolder, local_files_only=local_files_only, **dtype_kwargs),
            "SD VAE", path_or_id)
        # The decoder is never used for the condition; dropping it halves the memory.
        vae.decoder = None
        vae.post_quant_conv = None
        encoder = cls(vae)
        place(encoder, device, None)
        return encoder


class PooledRGBContentEncoder(ImageContentEncoder):
    """Small stand-in without weights: the image average-pooled by 8, (B, 3, H/8, W/8) in [-1, 1].

    Same grid as the SD VAE latent, so the DiT's content path (2x2 patches -> H/16 tokens, Fig. 2
    split) is exercised unchanged on CPU; for the flat-coloured shapes world it loses little.
    """

    scaling_factor = 1.0

    def __init__(self, downsample: int = 8) -> None:
        super().__init__()
        self.channels = 3
        self.downsample = downsample
        self.freeze()

    @torch.no_grad()
    def encode(self, image: torch.Tensor, *, sample: bool = False,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """`sample` and `generator` are accepted for interface parity; pooling is deterministic."""
        check_image(image, self.downsample, "content image")
        return F.avg_pool2d(image.float(), self.downsample)  # B 3 H/ds W/ds
