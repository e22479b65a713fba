"""--device of every command as a torch.device (run time only: imports torch)."""

from __future__ import annotations

import torch

from reducio.errors import ConfigError


def resolve_device(name: str | None) -> torch.device:
    """--device NAME -> torch.device; None: cuda when available, else cpu."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown --device {name!r}; use cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name} requested but CUDA is not available; use --device cpu")
    return device
