"""Image-semantic encoders: the OpenCLIP ViT-H-14 patch tokens (paper) and a small pixel stand-in."""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from einops import rearrange

from reducio.conditioning._hf import load_or_explain, place
from reducio.conditioning.base import ImageSemanticEncoder, check_image

CLIP_VIT_H_14_ID = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
# OpenAI CLIP normalisation, which open_clip also uses for the LAION ViT-H-14 weights.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class CLIPSemanticEncoder(ImageSemanticEncoder):
    """The LAION OpenCLIP ViT-H-14 vision tower through transformers' `CLIPVisionModel`.

    Output: the patch tokens after the final LayerNorm, (B, 256, 1280) at 224 px. This equals
    open_clip's `output_tokens=True` tokens, which the release extracts (`z_clip`): open_clip applies
    `ln_post` to all tokens and returns the non-class ones without projection; transformers returns
    `last_hidden_state` *before* `post_layernorm` and with the class token first, so we drop the
    class token and apply `post_layernorm` ourselves.

    Pre-processing as the release: resize to the model's image size (224) bicubic with antialias,
    map [-1, 1] -> [0, 1], normalise with the CLIP mean/std. The image is resized to a square
    without cropping, as in `extract_latent.py`.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model  # CLIPVisionModel or CLIPVisionModelWithProjection (projection unused)
        config = model.config
        self.image_size = int(config.image_size)
        self.dim = int(config.hidden_size)
        self.num_tokens = (config.image_size // config.patch_size) ** 2
        self.register_buffer("mean", torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CLIP_STD).view(1, 3, 1, 1), persistent=False)
        self.freeze()

    @torch.no_grad()
    def encode(self, image: torch.Tensor) -> torch.Tensor:
        """image: (B, 3, H, W) in [-1, 1] -> (B, num_tokens, dim) post-LayerNorm patch tokens."""
        check_image(image)
        pixels = image.to(device=self.device, dtype=torch.float32)                 # B 3 H W
        pixels = F.interpolate(pixels, size=(self.image_size, self.image_size), mode="bicubic",
                               align_corners=False, antialias=True)                # B 3 S S
        pixels = ((pixels + 1) / 2 - self.mean) / self.std                         # B 3 S S
        # transformers 5 flattened CLIPVisionModel (no `.vision_model`); the WithProjection
        # class and transformers 4 keep the tower under `.vision_model`.
        vision = getattr(self.model, "vision_model", self.model)
        hidden = vision(pixel_values=pixels.to(self.dtype)).last_hidden_state     # B 1+N D
        return vision.post_layernorm(hidden[:, 1:])                                # B N D

    @classmethod
    def from_pretrained(cls, path_or_id: str | os.PathLike = CLIP_VIT_H_14_ID, *,
                        torch_dtype: torch.dtype | None = None,
                        device: torch.device | str | None = None,
                        local_files_only: bool = False) -> CLIPSemanticEncoder:
        """Load the vision tower from a CLIP folder / hub id (a full CLIPModel checkpoint works)."""
        from transformers import CLIPVisionModel  # heavy; only this loader needs it

        dtype_kwargs = {"torch_dtype": torch_dtype} if torch_dtype is not None else {}
        model = load_or_explain(lambda: CLIPVisionModel.from_pretrained(
            path_or_id, local_files_only=local_files_only, **dtype_kwargs),
            "CLIP vision tower", path_or_id)
        encoder = cls(model)
        place(encoder, device, None)
        return encoder


class PatchPixelSemanticEncoder(ImageSemanticEncoder):
    """Small stand-in without weights: the image at `image_size` cut into raw-pixel patch tokens.

    Not a semantic encoder: it gives CPU-sized models (the shapes world, tests) a coarse global
    view of the content image through the same interface, offline. Default: 64 px, 8x8 patches
    -> (B, 64, 192) tokens in [-1, 1].
    """

    def __init__(self, image_size: int = 64, patch_size: int = 8) -> None:
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image_size {image_size} must be a multiple of patch_size {patch_size}")
        self.image_size = image_size
        self.patch_size = patch_size
        self.dim = 3 * patch_size * patch_size
        self.num_tokens = (image_size // patch_size) ** 2
        self.freeze()

    @torch.no_grad()
    def encode(self, image: torch.Tensor) -> torch.Tensor:
        check_image(image)
        pixels = F.interpolate(image.float(), size=(self.image_size, self.image_size),
                               mode="area")                                          # B 3 S S
        p = self.patch_size
        return rearrange(pixels, "b c (h p) (w q) -> b (h w) (c p q)", p=p, q=p)    # B N 3pp
