"""Loading third-party encoders (transformers / diffusers) with reducio's errors."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import torch

from reducio.errors import ModelNotFoundError

T = TypeVar("T")


def load_or_explain(load: Callable[[], T], what: str, path_or_id: str | os.PathLike) -> T:
    """Run a `from_pretrained` call; a missing model becomes ModelNotFoundError with the fix."""
    try:
        return load()
    except (OSError, ValueError) as error:  # HF raises OSError (missing) / HFValidationError
        raise ModelNotFoundError(
            f"cannot load the {what} from {str(path_or_id)!r}: {error}. Pass a local folder "
            "that holds the model (config.json + weights), or a hub id already in the Hugging Face "
            "cache (HF_HOME); without network nothing can be downloaded."
        ) from error


def place(module: torch.nn.Module, device: torch.device | str | None,
          dtype: torch.dtype | None) -> None:
    if device is not None or dtype is not None:
        module.to(device=device, dtype=dtype)
