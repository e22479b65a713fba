"""Reducio-VAE: image-conditioned 3D VAE with extremely compressed motion latents."""

from reducio.models.vae.autoencoder import ReducioVAE
from reducio.models.vae.config import VAEConfig
from reducio.models.vae.distribution import DiagonalGaussian
from reducio.models.vae.outputs import ContentFeatures, ReducioVAEOutput

__all__ = [
    "ContentFeatures",
    "DiagonalGaussian",
    "ReducioVAE",
    "ReducioVAEOutput",
    "VAEConfig",
]
