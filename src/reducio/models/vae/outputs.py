"""Return types of ReducioVAE beyond diffusers' own: forward's output, encoded content features.

`encode` returns diffusers' `AutoencoderKLOutput` and `decode` its `DecoderOutput`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers.models.autoencoders.vae import DecoderOutput

from reducio.models.vae.distribution import DiagonalGaussian


@dataclass
class ReducioVAEOutput(DecoderOutput):
    """`forward`'s output: the reconstruction (B, 3, T, H, W, unbounded: clamp to [-1, 1] to view)
    and what training reads, the posterior over all windows and the decoded normalised latent."""

    latent_dist: DiagonalGaussian | None = None
    latent: torch.Tensor | None = None  # B C t h w


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

    def select(self, b: int) -> ContentFeatures:
        """The features of sample b alone (batch slicing)."""
        grid = tuple(tuple(tuple(m[b:b + 1] for m in tile) for tile in row) for row in self.grid)
        image = None if self.image is None else self.image[b:b + 1]
        return ContentFeatures(grid=grid, tiled=self.tiled, image_size=self.image_size, image=image)

    def to(self, *args, **kwargs) -> ContentFeatures:
        """Tensor.to(...) applied to every map."""
        grid = tuple(tuple(tuple(m.to(*args, **kwargs) for m in tile) for tile in row)
                     for row in self.grid)
        image = None if self.image is None else self.image.to(*args, **kwargs)
        return ContentFeatures(grid=grid, tiled=self.tiled, image_size=self.image_size, image=image)
