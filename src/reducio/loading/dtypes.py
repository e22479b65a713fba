"""torch dtypes by the names users type ("bf16", "float16", "torch.float32")."""

from __future__ import annotations

import torch

from reducio.errors import ConfigError

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
          "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
          "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}


def resolve_dtype(torch_dtype: torch.dtype | str | None) -> torch.dtype | None:
    """A torch dtype from a dtype, one of `DTYPES`' names, or None (keep the stored dtype)."""
    if torch_dtype is None or isinstance(torch_dtype, torch.dtype):
        return torch_dtype
    name = str(torch_dtype).removeprefix("torch.")
    if name not in DTYPES:
        raise ConfigError(f"unknown torch_dtype {torch_dtype!r}; use one of {sorted(DTYPES)}")
    return DTYPES[name]
