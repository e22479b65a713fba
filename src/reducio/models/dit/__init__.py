"""Reducio-DiT: config, patchify, embeddings, blocks, the content condition and the transformer."""

from reducio.models.dit.config import DiTConfig
from reducio.models.dit.content_condition import (
    SUBGRID_PHASES,
    layer_content_indices,
    split_content_tokens,
    subgrid_indices,
)
from reducio.models.dit.patch_resize import with_patch_size
from reducio.models.dit.patchify import patchify, unpatchify
from reducio.models.dit.presets import DIT_PRESETS
from reducio.models.dit.transformer import ReducioDiT, dit_parameter_count

__all__ = [
    "DIT_PRESETS",
    "DiTConfig",
    "ReducioDiT",
    "SUBGRID_PHASES",
    "dit_parameter_count",
    "layer_content_indices",
    "patchify",
    "split_content_tokens",
    "subgrid_indices",
    "unpatchify",
    "with_patch_size",
]
