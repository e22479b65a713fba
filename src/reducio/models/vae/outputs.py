"""Return types of ReducioVAE: encoder/decoder outputs and encoded content features."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from reducio.models.vae.distribution import DiagonalGaussian


@dataclass(frozen=True)
class EncoderOutput:
    latent_dist: DiagonalGaussian  # over (B, C, t, h, w)


@dataclass(frozen=True)
class DecoderOutput:
    sample: torch.Tensor  # B 3 T H W, unbounded (clamp to [-1, 1] to view)
    latent_dist: DiagonalGaussian | None = None  # set by forward()
    latent: torch.Tensor | None = None  # forward(): the normalised latent that was decoded


@dataclass(frozen=True)
class ContentFeatures:
    """Content-encoder features of one content frame per sample (one clip window).

    `grid[r][c]` is the list of feature maps (B, C_k, H_k, W_k) of spatial tile (r, c): a 1x1 grid
    without tiling. With tiling (release semantics) tiles overlap, neighbours are blended and the
    maps are NOT cropped; the decoder uses tile (r, c) for latent tile (r, c).
    """

    grid: tuple[tuple[tuple[torch.Tensor, ...], ...], ...]
    tiled: bool
    image_size: tuple[int, int]  # (H, W) of the encoded content frame
    image: torch.Tensor | None = None  # B 3 H W, the frame itself (decoders with content_skip)

    @property
    def maps(self) -> tuple[torch.Tensor, ...]:
        """The feature maps of an untiled encoding: (level 0, ..., last level, mid)."""
        if self.tiled:
            raise ValueError("tiled ContentFeatures have one list per tile: use .grid[r][c]")
        return self.grid[0][0]

    @property
    def batch_size(self) -> int:
        return self.grid[0][0][0].shape[0]

    def masked(self, keep: torch.Tensor) -> ContentFeatures:
        """Zero the features (and the frame) of samples where keep (B,) is 0: content dropout.
        Zero keys and values make every fusion block add only its output bias, so the decoder
        must rebuild those samples from the motion latent alone."""
        scale = keep.reshape(-1, 1, 1, 1)
        grid = tuple(tuple(tuple(m * scale.to(m.dtype) for m in tile) for tile in row)
                     for row in self.grid)
        image = None if self.image is None else self.image * scale.to(self.image.dtype)
        return ContentFeatures(grid=grid, tiled=self.tiled, image_size=self.image_size, image=image)

    def to(self, *args, **kwargs) -> ContentFeatures:
        """Tensor.to(...) applied to every map."""
        grid = tuple(tuple(tuple(m.to(*args, **kwargs) for m in tile) for tile in row)
                     for row in self.grid)
        image = None if self.image is None else self.image.to(*args, **kwargs)
        return ContentFeatures(grid=grid, tiled=self.tiled, image_size=self.image_size, image=image)
