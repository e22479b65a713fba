"""The frozen condition encoders of a pipeline as *references*: small JSON descriptions.

A pipeline folder does not copy T5-XXL (19 GB) or OpenCLIP next to the DiT: it records which
encoder to load, e.g. {"class": "T5TextEncoder", "path_or_id": "DeepFloyd/t5-v1_1-xxl",
"max_length": 120}, or {"class": "MiniLMTextEncoder", "max_length": 64} for the packaged one.
`load_*` builds the encoder; folders written before the pipelines were diffusers pipelines and
latent extraction (`reducio extract`) use these references.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch

from reducio.conditioning import (
    CLIPSemanticEncoder,
    ImageContentEncoder,
    ImageSemanticEncoder,
    MiniLMTextEncoder,
    PatchPixelSemanticEncoder,
    PooledRGBContentEncoder,
    SDVAEContentEncoder,
    T5TextEncoder,
    TextEncoder,
)
from reducio.errors import ConfigError

Reference = dict[str, Any]
REFERENCE_ATTR = "reducio_reference"  # set on encoders we load, so saving can write them back


# ----------------------------------------------------------------------------- load
def _kwargs(reference: Reference, allowed: tuple[str, ...]) -> dict[str, Any]:
    extra = sorted(set(reference) - {"class", *allowed})
    if extra:
        raise ConfigError(f"{reference['class']} reference has unknown key(s) {extra}; "
                          f"valid: {['class', *allowed]}")
    return {k: v for k, v in reference.items() if k != "class"}


def _load_minilm(ref, device, dtype, local):
    return MiniLMTextEncoder.load(**_kwargs(ref, ("max_length",)), device=device, torch_dtype=dtype)


def _load_t5(ref, device, dtype, local):
    kwargs = _kwargs(ref, ("path_or_id", "subfolder", "max_length"))
    return T5TextEncoder.from_pretrained(kwargs.pop("path_or_id"), **kwargs, torch_dtype=dtype,
                                         device=device, local_files_only=local)


def _load_clip(ref, device, dtype, local):
    kwargs = _kwargs(ref, ("path_or_id",))
    return CLIPSemanticEncoder.from_pretrained(kwargs["path_or_id"], torch_dtype=dtype,
                                               device=device, local_files_only=local)


def _load_patch_pixel(ref, device, dtype, local):
    return PatchPixelSemanticEncoder(**_kwargs(ref, ("image_size", "patch_size")))


def _load_sd_vae(ref, device, dtype, local):
    kwargs = _kwargs(ref, ("path_or_id", "subfolder"))
    return SDVAEContentEncoder.from_pretrained(kwargs.pop("path_or_id"), **kwargs, torch_dtype=dtype,
                                               device=device, local_files_only=local)


def _load_pooled(ref, device, dtype, local):
    return PooledRGBContentEncoder(**_kwargs(ref, ("downsample",)))


Loader = Callable[[Reference, Any, Any, bool], torch.nn.Module]
_TEXT: dict[str, Loader] = {"MiniLMTextEncoder": _load_minilm, "T5TextEncoder": _load_t5}
_SEMANTIC: dict[str, Loader] = {"CLIPSemanticEncoder": _load_clip,
                                "PatchPixelSemanticEncoder": _load_patch_pixel}
_CONTENT: dict[str, Loader] = {"SDVAEContentEncoder": _load_sd_vae,
                               "PooledRGBContentEncoder": _load_pooled}


def _load(table: dict[str, Loader], what: str, reference: Reference | str,
          device: torch.device | str | None, dtype: torch.dtype | None,
          local_files_only: bool) -> torch.nn.Module:
    if not isinstance(reference, dict) or reference.get("class") not in table:
        raise ConfigError(f"invalid {what} encoder reference {reference!r}; expected "
                          f"{{'class': one of {sorted(table)}, ...}}")
    encoder = table[reference["class"]](reference, device, dtype, local_files_only)
    object.__setattr__(encoder, REFERENCE_ATTR, dict(reference))
    return encoder


def load_text_encoder(reference: Reference | str, *, device: torch.device | str | None = None,
                      torch_dtype: torch.dtype | None = None,
                      local_files_only: bool = False) -> TextEncoder:
    """A text encoder from a reference; the string "minilm" is the packaged MiniLM, any other
    string a T5 folder or hub id."""
    if isinstance(reference, str):
        reference = ({"class": "MiniLMTextEncoder"} if reference == "minilm"
                     else {"class": "T5TextEncoder", "path_or_id": os.fspath(reference)})
    return _load(_TEXT, "text", reference, device, torch_dtype, local_files_only)


def load_semantic_encoder(reference: Reference, *, device=None, torch_dtype=None,
                          local_files_only: bool = False) -> ImageSemanticEncoder:
    return _load(_SEMANTIC, "semantic", reference, device, torch_dtype, local_files_only)


def load_content_encoder(reference: Reference, *, device=None, torch_dtype=None,
                         local_files_only: bool = False) -> ImageContentEncoder:
    return _load(_CONTENT, "content", reference, device, torch_dtype, local_files_only)


__all__ = [
    "load_content_encoder",
    "load_semantic_encoder",
    "load_text_encoder",
]
