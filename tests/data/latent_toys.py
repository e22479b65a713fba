"""Helpers for the latent-shard, extraction and DiT-training tests: a micro VAE config, a
deterministic word-hash text encoder (no download, milliseconds), a tiny-DiT override set and a
folder of toy latent shards (`write_toy_shards`).

Imported by tests in other folders through `sys.path` (tests have no packages here).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import torch
from torch import nn

from reducio.conditioning.base import TextEmbedding, TextEncoder
from reducio.data.latents import ShardRecord, content_frame_to_stored, shard_name, write_shard
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


# The `info` block of the toy shards: 4 latent channels, 6-d text, content latents, uint8 frames.
TOY_SHARD_INFO = {"vae": "random:tiny@0", "vae_config_hash": "abc", "latent_mode": "sample", "latent_channels": 4,
                  "frames": 8, "text_encoder": "hash", "text_dim": 6, "text_max_length": 5,
                  "semantic_encoder": None, "content_encoder": "pooled-rgb", "content_channels": 3,
                  "has_content_latent": True, "has_semantic": False, "content_frame_dtype": "uint8"}


def toy_record(k: int, caption: str) -> ShardRecord:
    """Record k (seeded by k) of a 32x32 clip: latent 4 x 2 x 1 x 1, 1-5 text tokens of 6 dims."""
    g = torch.Generator().manual_seed(k)
    frame = torch.rand(3, 32, 32, generator=g) * 2 - 1                       # 3 H W in [-1, 1]
    return ShardRecord(
        latent=torch.randn(4, 2, 1, 1, generator=g).half(),                  # C t h w
        content_frame=content_frame_to_stored(frame, "uint8"),               # 3 H W
        text=torch.randn(1 + k % 5, 6, generator=g).half(),                  # n D
        content_latent=torch.randn(3, 4, 4, generator=g).half(),             # Cc H/8 W/8
        meta={"caption": caption, "source": f"video{k}.mp4", "item": k, "window": 0,
              "frame_indices": list(range(8)), "fps": 16.0, "height": 32, "width": 32, "bucket": [32, 32]},
    )


def write_toy_shards(folder: str | Path, captions: list[str], per_shard: int) -> list[ShardRecord]:
    """Write one toy record per caption into `folder`, `per_shard` records per shard, as a
    one-process `reducio extract` would; returns the records in order."""
    records = [toy_record(k, caption) for k, caption in enumerate(captions)]
    for index, start in enumerate(range(0, len(records), per_shard)):
        chunk = records[start:start + per_shard]
        write_shard(Path(folder) / shard_name(1, 0, index), chunk, info=TOY_SHARD_INFO,
                    items=list(range(start, start + len(chunk))), shard={"rank": 0, "world_size": 1, "index": index})
    return records
