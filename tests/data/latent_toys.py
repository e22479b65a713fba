"""Helpers for the latent-shard, extraction and DiT-training tests: a micro VAE config, a
deterministic word-hash text encoder (no download, milliseconds) and a tiny-DiT override set.

Imported by tests in other folders through `sys.path` (tests have no packages here).
"""

from __future__ import annotations

import zlib

import torch
from torch import nn

from reducio.conditioning.base import TextEmbedding, TextEncoder
from reducio.models.vae import ReducioVAE, VAEConfig

# 8 frames, 4 latent channels, GroupNorm-legal widths: encodes 4 clips of 32 px in ~0.2 s.
MICRO_VAE = VAEConfig.preset("tiny").replace(
    frames=8, encoder_channels=32, decoder_channels=32, content_channels=32, latent_channels=4,
    z_channels=4, mid_attention_heads=1, channel_mult=(1, 1, 1, 1, 1, 1), content_channel_mult=(1, 1, 1, 1),
    fuse_levels=(-1, -1, 2, 3, -1, -1), patch_size=1)

# A DiT for those latents (4 x 2 x 1 x 1) and HashText (16-d), with the built-in image widths.
MICRO_DIT = {"in_channels": 4, "text_dim": 16, "hidden_size": 64, "depth": 2, "num_heads": 4}


def micro_vae(seed: int = 0) -> ReducioVAE:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ReducioVAE(MICRO_VAE).eval()


class HashText(TextEncoder):
    """Each word -> a fixed random vector (crc32 bucket), plus an end token; right-padded."""

    def __init__(self, dim: int = 16, max_length: int = 12) -> None:
        super().__init__()
        self.dim, self.max_length = dim, max_length
        generator = torch.Generator().manual_seed(0)
        self.table = nn.Parameter(torch.randn(101, dim, generator=generator))
        self.freeze()

    @torch.no_grad()
    def encode(self, prompts) -> TextEmbedding:
        ids = torch.zeros(len(prompts), self.max_length, dtype=torch.long)
        mask = torch.zeros(len(prompts), self.max_length, dtype=torch.bool)
        for b, prompt in enumerate(prompts):
            words = prompt.split()[: self.max_length - 1] + ["</s>"]
            for i, word in enumerate(words):
                ids[b, i] = zlib.crc32(word.encode()) % 101
                mask[b, i] = True
        return TextEmbedding(self.table[ids] * mask[..., None], mask)
