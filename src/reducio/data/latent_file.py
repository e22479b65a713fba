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

from reducio.errors import ShapeError, VideoReadError, VideoWriteError

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
            f"{len(tensors)} tensors: {', '.join(sorted(tensors)[:3])}{', ...' if len(tensors) > 3 else ''}); "
            "model weights are loaded with --vae instead"
        )
    version = int(metadata.get("reducio_format_version", "0"))
    if version > FORMAT_VERSION:
        raise VideoReadError(
            f"{path}: latent format version {version} is newer than this reducio ({FORMAT_VERSION}); upgrade reducio"
        )
    try:
        sources, fps, window = json.loads(metadata["sources"]), float(metadata["fps"]), int(metadata["window"])
        vae_config = json.loads(metadata.get("vae_config", "{}"))
    except (KeyError, ValueError, TypeError) as error:
        raise VideoReadError(f"{path}: damaged metadata ({type(error).__name__}: {error}); encode the videos "
                             "again with `reducio encode`") from None
    data = LatentFile(
        latent=tensors["latent"], content=tensors["content"].float(), clip=tensors["clip"],
        sources=sources, fps=fps, window=window, vae=metadata.get("vae", ""), vae_config=vae_config,
        sample_posterior=metadata.get("sample_posterior") == "true",
    )
    check_latent_file(path, data)
    return data


def check_latent_file(path: str | Path, data: LatentFile) -> None:
    """Shapes, dtypes and bookkeeping that `decode` relies on; a file that breaks them would decode
    into a wrong or silently shortened video, so it is refused naming what is wrong."""
    latent, content, clip = data.latent, data.content, data.clip
    fix = "encode the videos again with `reducio encode`"
    if latent.ndim != 5 or not latent.is_floating_point():
        raise ShapeError(f"{path}: 'latent' must be float (N, C, t, h, w), got {str(latent.dtype).replace('torch.', '')} "
                         f"{tuple(latent.shape)}; {fix}")
    n = latent.shape[0]
    if content.ndim != 4 or content.shape[:2] != (n, 3):
        raise ShapeError(f"{path}: 'content' must be ({n}, 3, H, W), one RGB frame per latent window, got "
                         f"{tuple(content.shape)}; {fix}")
    if clip.shape != (n,) or clip.is_floating_point():
        raise ShapeError(f"{path}: 'clip' must be integer ({n},), one clip index per window, got "
                         f"{str(clip.dtype).replace('torch.', '')} {tuple(clip.shape)}; {fix}")
    if not torch.isfinite(latent).all() or not torch.isfinite(content).all():
        raise ShapeError(f"{path}: holds NaN or infinite values (they decode to a black video); {fix}")
    if not (isinstance(data.sources, list) and data.sources and all(isinstance(s, dict) and "frames" in s
                                                                     for s in data.sources)):
        raise VideoReadError(f"{path}: metadata 'sources' must list one {{\"path\", \"frames\"}} per clip, got "
                             f"{str(data.sources)[:80]}; {fix}")
    if data.window < 1 or not data.fps > 0 or data.fps == float("inf"):
        raise VideoReadError(f"{path}: metadata window={data.window}, fps={data.fps} (need >= 1 and a positive "
                             f"finite frame rate); {fix}")
    for index, source in enumerate(data.sources):
        windows = int((clip == index).sum())
        frames = source["frames"]
        if not isinstance(frames, int) or frames < 1 or -(-frames // data.window) != windows:
            raise ShapeError(f"{path}: clip {index} ({source.get('path')}) records {frames} frames, which is "
                             f"{-(-frames // data.window) if isinstance(frames, int) else '?'} window(s) of "
                             f"{data.window}, but the file holds {windows}; {fix}")
    if ((clip < 0) | (clip >= len(data.sources))).any():
        raise ShapeError(f"{path}: 'clip' indices must be in 0..{len(data.sources) - 1} (one per source), got "
                         f"{sorted(set(clip.tolist()))}; {fix}")
