"""Turning the `image` argument of a pipeline (tensor, PIL, numpy, list) into (B, 3, H, W) in [-1, 1]."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from reducio.errors import PipelineInputError

ImageInput = Any  # torch.Tensor | PIL.Image.Image | np.ndarray | a list of them

_RANGE_SLACK = 1e-3  # decoded frames fed back as content may overshoot [-1, 1] by rounding


def prepare_image(image: ImageInput) -> torch.Tensor:
    """The content image(s) as float32 (B, 3, H, W) in [-1, 1].

    Accepted: a float tensor (3, H, W) or (B, 3, H, W) in [-1, 1] (the package's convention), a
    uint8 tensor of the same shapes, a PIL image, a uint8 array (H, W, 3) or (B, H, W, 3), or a
    list of PIL images / arrays of one size.
    """
    if isinstance(image, (list, tuple)):
        if len(image) == 0:
            raise PipelineInputError("`image` is an empty list; pass at least one image")
        items = [prepare_image(item) for item in image]
        sizes = sorted({tuple(item.shape[-2:]) for item in items})
        if len(sizes) > 1:
            raise PipelineInputError(f"`image` list holds images of different sizes {sizes}; all "
                                     "images of one call must have the same height and width")
        return torch.cat(items)
    if _is_pil(image):
        image = np.array(image.convert("RGB"))  # a writable copy
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (3, 4) or image.shape[-1] != 3:
            raise PipelineInputError(f"a numpy `image` must be uint8 (H, W, 3) or (B, H, W, 3), got "
                                     f"{image.dtype} {image.shape}; convert floats with "
                                     "(x * 255).round().astype(np.uint8)")
        tensor = torch.from_numpy(np.ascontiguousarray(image))
        tensor = tensor[None] if tensor.ndim == 3 else tensor
        return tensor.permute(0, 3, 1, 2).float() / 127.5 - 1.0                   # B 3 H W
    if not isinstance(image, torch.Tensor):
        raise PipelineInputError(f"`image` must be a tensor, a PIL image, a uint8 array or a list of "
                                 f"them, got {type(image).__name__}")
    tensor = image[None] if image.ndim == 3 else image
    if tensor.ndim != 4 or tensor.shape[1] != 3:
        raise PipelineInputError(f"`image` tensor must be (3, H, W) or (B, 3, H, W), got shape "
                                 f"{tuple(image.shape)}; permute (H, W, 3) images with "
                                 ".permute(2, 0, 1)")
    if tensor.dtype == torch.uint8:
        return tensor.float() / 127.5 - 1.0
    tensor = tensor.float()
    low, high = float(tensor.min()), float(tensor.max())
    if low < -1.0 - _RANGE_SLACK or high > 1.0 + _RANGE_SLACK:
        raise PipelineInputError(f"a float `image` tensor must lie in [-1, 1], got values in "
                                 f"[{low:.3f}, {high:.3f}]; map [0, 1] images with x * 2 - 1 and "
                                 "[0, 255] ones with x / 127.5 - 1")
    return tensor.clamp(-1.0, 1.0)


def _is_pil(image: Any) -> bool:
    try:
        from PIL import Image
    except ImportError:  # Pillow is optional: without it no PIL image can reach us
        return False
    return isinstance(image, Image.Image)


def as_prompt_list(prompt: str | Sequence[str], name: str = "prompt") -> list[str]:
    """A prompt or list of prompts -> list; PipelineInputError for anything else."""
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, (list, tuple)) and prompt and all(isinstance(p, str) for p in prompt):
        return list(prompt)
    raise PipelineInputError(f"`{name}` must be a string or a non-empty list of strings, got {prompt!r}")


__all__ = ["ImageInput", "as_prompt_list", "prepare_image"]
