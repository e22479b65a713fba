"""The three condition-encoder interfaces of Reducio-DiT.

- `TextEncoder.encode(prompts) -> TextEmbedding(tokens (B, L, dim), mask (B, L) bool)`
- `ImageSemanticEncoder.encode(image) -> (B, num_tokens, dim)` global/semantic image tokens
- `ImageContentEncoder.encode(image, sample=False, generator=None) -> (B, channels, H/ds, W/ds)`
  the content latent, unscaled (the DiT applies its `content_scale`)

Images are (B, 3, H, W) in [-1, 1], the package's convention. Encoders are frozen: their weights
never need gradients and they stay in eval mode even when a parent module is put in train mode.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from reducio.errors import ShapeError


@dataclass(frozen=True)
class TextEmbedding:
    """Token states of a batch of prompts, padded to one length."""

    tokens: torch.Tensor  # B L D
    mask: torch.Tensor    # B L bool, True for real tokens

    def to(self, device: torch.device | str | None = None,
           dtype: torch.dtype | None = None) -> TextEmbedding:
        return TextEmbedding(self.tokens.to(device=device, dtype=dtype), self.mask.to(device=device))


class FrozenEncoder(nn.Module):
    """A module used only for inference: no gradients, always in eval mode."""

    def freeze(self) -> None:
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FrozenEncoder:
        # Dropout / batch statistics of a frozen encoder must never switch on.
        return super().train(False)

    @property
    def device(self) -> torch.device:
        tensor = next(self.parameters(), None)
        return tensor.device if tensor is not None else torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        tensor = next(self.parameters(), None)
        return tensor.dtype if tensor is not None else torch.float32


class TextEncoder(FrozenEncoder, ABC):
    """Prompts -> padded token states with a mask. `dim` is the token width the DiT projects."""

    dim: int
    max_length: int

    @abstractmethod
    def encode(self, prompts: Sequence[str]) -> TextEmbedding:
        """prompts: B strings -> TextEmbedding((B, max_length, dim), (B, max_length))."""

    def forward(self, prompts: Sequence[str]) -> TextEmbedding:
        return self.encode(prompts)


class ImageSemanticEncoder(FrozenEncoder, ABC):
    """Image -> (B, num_tokens, dim) semantic tokens (OpenCLIP ViT-H-14 patch tokens in the paper)."""

    dim: int
    num_tokens: int

    @abstractmethod
    def encode(self, image: torch.Tensor) -> torch.Tensor:
        """image: (B, 3, H, W) in [-1, 1] -> (B, num_tokens, dim)."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.encode(image)


class ImageContentEncoder(FrozenEncoder, ABC):
    """Image -> (B, channels, H/downsample, W/downsample) content latent (SD VAE in the paper)."""

    channels: int
    downsample: int
    # What the DiT multiplies the latent by (DiTConfig.content_scale should equal it).
    scaling_factor: float

    @abstractmethod
    def encode(self, image: torch.Tensor, *, sample: bool = False,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """image: (B, 3, H, W) in [-1, 1], H and W multiples of `downsample`."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.encode(image)


def check_image(image: torch.Tensor, multiple: int = 1, what: str = "image") -> None:
    """Raise ShapeError unless image is (B, 3, H, W) with H, W multiples of `multiple`."""
    if image.ndim != 4 or image.shape[1] != 3:
        raise ShapeError(f"{what} must be (B, 3, H, W) RGB in [-1, 1], got shape {tuple(image.shape)}")
    height, width = image.shape[2:]
    if height % multiple or width % multiple:
        raise ShapeError(f"{what} size {height}x{width} must be a multiple of {multiple}; "
                         "resize or crop the image (video frames are multiples of 32)")
