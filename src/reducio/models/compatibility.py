"""Whether a Reducio-DiT fits a Reducio-VAE: the one place that checks it.

The DiT denoises the VAE's motion latent, so its `in_channels` is the VAE's `latent_channels`
(16 for the release, docs/architecture.md §1.1). `dit_in_channels` derives it, `check_dit_fits_vae`
refuses a pair that does not match, naming both values and the fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reducio.errors import ConfigError

if TYPE_CHECKING:  # only annotations: DiTConfig's own default reads dit_in_channels
    from reducio.models.dit.config import DiTConfig
    from reducio.models.vae.config import VAEConfig


def dit_in_channels(vae: VAEConfig) -> int:
    """The input channels of a DiT that generates `vae`'s motion latents (B C t h w: C)."""
    return vae.latent_channels


def check_dit_fits_vae(dit: DiTConfig, vae: VAEConfig, *, where: str = "") -> None:
    """ConfigError unless `dit` takes `vae`'s latents. `where` names the source in the message."""
    want = dit_in_channels(vae)
    if dit.in_channels != want:
        source = f" ({where})" if where else ""
        raise ConfigError(
            f"the DiT takes {dit.in_channels}-channel latents but the VAE{source} makes {want}-channel "
            f"latents (latent_channels); build the DiT with in_channels={want} for this VAE"
        )
