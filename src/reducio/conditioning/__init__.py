"""Frozen condition encoders for Reducio-DiT: text, image semantics, image content."""

from reducio.conditioning.base import (
    ImageContentEncoder,
    ImageSemanticEncoder,
    TextEmbedding,
    TextEncoder,
)
from reducio.conditioning.image_content import PooledRGBContentEncoder, SDVAEContentEncoder
from reducio.conditioning.image_semantic import CLIPSemanticEncoder, PatchPixelSemanticEncoder
from reducio.conditioning.text import (
    HFTextEncoder,
    MiniLMTextEncoder,
    T5TextEncoder,
    clean_caption,
)

__all__ = [
    "CLIPSemanticEncoder",
    "HFTextEncoder",
    "ImageContentEncoder",
    "ImageSemanticEncoder",
    "MiniLMTextEncoder",
    "PatchPixelSemanticEncoder",
    "PooledRGBContentEncoder",
    "SDVAEContentEncoder",
    "T5TextEncoder",
    "TextEmbedding",
    "TextEncoder",
    "clean_caption",
]
