"""The file `reducio encode` writes and `reducio decode` reads: one .safetensors holding

- `latent`  float32 (N, C, t, h, w): normalised motion latents, one per 16-frame window;
- `content` float16 (N, 3, H, W): each window's content frame in [-1, 1] (the decoder needs it);
- `clip`    int64 (N,): which source clip each window belongs to;

and string metadata: `reducio_format` = "latents", `reducio_format_version`, `vae` (what was
loaded), `vae_config` (JSON), `fps`, `window`, `height`, `width`, `sample_posterior` and `sources`
(JSON list of {"path", "frames", "start"}: frames before padding, so decode trims exactly).
(For DiT training data use `reducio extract`, whose shards also hold text and image features.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from reducio.errors import VideoReadError, VideoWriteError

FORMAT = "latents"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class LatentFile:
    latent: torch.Tensor  # N C t h w
    content: torch.Tensor  # N 3 H W
    clip: torch.Tensor  # N
    sources: list[dict]
    fps: float
    window: int
    vae: str
    vae_config: dict
    sample_posterior: bool

    def windows_of(self, clip_index: int) -> tuple[torch.Tensor, torch.Tensor]:
        mask = self.clip == clip_index
        return self.latent[mask], self.content[mask]


def save_latents(path: str | Path, data: LatentFile) -> Path:
    path = Path(path)
    if path.suffix != ".safetensors":
        raise VideoWriteError(f"{path}: latents are written as .safetensors; name it {path.stem}.safetensors")
    metadata = {
        "reducio_format": FORMAT,
        "reducio_format_version": str(FORMAT_VERSION),
        "vae": data.vae,
        "vae_config": json.dumps(data.vae_config, sort_keys=True),
        "fps": repr(float(data.fps)),
        "window": str(data.window),
        "height": str(data.content.shape[-2]),
        "width": str(data.content.shape[-1]),
        "sample_posterior": str(bool(data.sample_posterior)).lower(),
        "sources": json.dumps(data.sources),
    }
    tensors = {
        "latent": data.latent.float().contiguous(),
        "content": data.content.half().contiguous(),
        "clip": data.clip.long().contiguous(),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(path), metadata=metadata)
    except OSError as error:
        raise VideoWriteError(f"{path}: cannot write ({error})") from None
    return path


def load_latents(path: str | Path) -> LatentFile:
    path = Path(path)
    if not path.is_file():
        raise VideoReadError(f"{path}: latent file not found")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise VideoReadError(f"{path}: not a readable .safetensors file ({error})") from None
    if metadata.get("reducio_format") != FORMAT or not {"latent", "content", "clip"} <= set(tensors):
        raise VideoReadError(
            f"{path}: not a latent file written by `reducio encode` (format {metadata.get('reducio_format')!r}, "
            f"tensors {sorted(tensors)}); model weights are loaded with --vae instead"
        )
    version = int(metadata.get("reducio_format_version", "0"))
    if version > FORMAT_VERSION:
        raise VideoReadError(
            f"{path}: latent format version {version} is newer than this reducio ({FORMAT_VERSION}); upgrade reducio"
        )
    return LatentFile(
        latent=tensors["latent"], content=tensors["content"].float(), clip=tensors["clip"],
        sources=json.loads(metadata["sources"]), fps=float(metadata["fps"]), window=int(metadata["window"]),
        vae=metadata.get("vae", ""), vae_config=json.loads(metadata.get("vae_config", "{}")),
        sample_posterior=metadata.get("sample_posterior") == "true",
    )
