"""The one check that a Reducio-DiT takes a Reducio-VAE's latents (reducio.models.compatibility)."""

from __future__ import annotations

import pytest

from reducio.errors import ConfigError
from reducio.models.compatibility import check_dit_fits_vae, dit_in_channels
from reducio.models.dit import DiTConfig
from reducio.models.vae import VAEConfig


def test_dit_in_channels_is_the_vae_latent_channels():
    assert dit_in_channels(VAEConfig.preset("ft4")) == VAEConfig.preset("ft4").latent_channels
    assert dit_in_channels(VAEConfig(latent_channels=8, z_channels=8)) == 8


def test_a_matching_pair_passes():
    vae = VAEConfig.preset("tiny")
    check_dit_fits_vae(DiTConfig.preset("tiny"), vae)
    check_dit_fits_vae(DiTConfig(), VAEConfig())  # the defaults are the released pair
    small_vae = VAEConfig(latent_channels=8, z_channels=8)
    dit = DiTConfig.for_vae(small_vae, "tiny")
    assert dit.in_channels == 8 and dit.hidden_size == DiTConfig.preset("tiny").hidden_size
    check_dit_fits_vae(dit, small_vae)


def test_a_mismatched_pair_fails_naming_both_numbers_and_the_source():
    dit = DiTConfig.preset("tiny").replace(in_channels=4)
    with pytest.raises(ConfigError, match=r"the DiT takes 4-channel latents but the VAE \(vae-tiny\) "
                                          r"makes 16-channel latents.*in_channels=16"):
        check_dit_fits_vae(dit, VAEConfig.preset("tiny"), where="vae-tiny")
