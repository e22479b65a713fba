"""CLIP score of a video against its prompt, with a CLIP model from a local folder.

Features: CLIP's projected image embedding of every frame (the processor's resize, centre crop
and normalisation) and the projected text embedding of the prompt (truncated to the text model's
77 positions). Score per frame = 100 * max(cos(image, text), 0), as in torchmetrics' CLIPScore;
the clip's score is the mean over frames.

The model is a `transformers` CLIP folder (config.json + weights + tokenizer and processor
files), for instance a local copy of `openai/clip-vit-base-patch32` or `-large-patch14`. It is
opened with `local_files_only=True`: nothing is downloaded.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from reducio.errors import ModelNotFoundError, ShapeError
from reducio.eval.reconstruction import as_video_batch

logger = logging.getLogger(__name__)

CLIP_SOURCE = (
    "a local transformers CLIP folder (config.json, model weights, tokenizer and "
    "preprocessor files), e.g. a saved copy of openai/clip-vit-base-patch32"
)


def video_to_uint8_frames(video: torch.Tensor) -> list[np.ndarray]:
    """`3 T H W` in [-1, 1] -> T arrays `H W 3` uint8 (what CLIP's processor expects)."""
    frames = ((video.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return list(frames.permute(1, 2, 3, 0).cpu().numpy())  # T H W 3


class CLIPScorer:
    """Text-video CLIP score, 0..100 per clip (higher = better aligned)."""

    def __init__(self, model, processor, device: str | torch.device = "cpu"):
        self.model = model.eval().requires_grad_(False).to(device)
        self.processor = processor
        self.device = torch.device(device)

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | torch.device = "cpu") -> "CLIPScorer":
        """Open a local CLIP folder; raises ModelNotFoundError naming what is missing."""
        from transformers import CLIPModel, CLIPProcessor  # heavy: loaded only when a CLIP score is asked for

        folder = Path(path).expanduser()
        if not folder.is_dir() or not (folder / "config.json").is_file():
            raise ModelNotFoundError(
                f"CLIP score: {str(folder)!r} is not a CLIP model folder (no config.json); "
                f"provide {CLIP_SOURCE}"
            )
        try:
            model = CLIPModel.from_pretrained(str(folder), local_files_only=True)
            processor = CLIPProcessor.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError) as error:
            raise ModelNotFoundError(
                f"CLIP score: cannot open {str(folder)!r} as a CLIP model with its processor "
                f"({error}); provide {CLIP_SOURCE}"
            ) from error
        return cls(model, processor, device=device)

    @torch.no_grad()
    def text_embedding(self, prompt: str) -> torch.Tensor:
        """Unit-norm projected text embedding `D`."""
        max_length = self.model.config.text_config.max_position_embeddings
        tokens = self.processor.tokenizer(
            [prompt], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        ).to(self.device)
        out = self.model.text_model(**tokens)
        embedding = self.model.text_projection(out.pooler_output)[0]
        return embedding / embedding.norm()

    @torch.no_grad()
    def image_embeddings(self, frames: list[np.ndarray]) -> torch.Tensor:
        """Unit-norm projected image embeddings `T D` of uint8 frames `H W 3`."""
        pixels = self.processor.image_processor(images=frames, return_tensors="pt")["pixel_values"]
        pixels = pixels.to(self.device, dtype=next(self.model.parameters()).dtype)
        out = self.model.vision_model(pixel_values=pixels)
        embedding = self.model.visual_projection(out.pooler_output)
        return embedding / embedding.norm(dim=-1, keepdim=True)

    @torch.no_grad()
    def score_frames(self, video: torch.Tensor, prompt: str) -> torch.Tensor:
        """Per-frame scores `T` for one clip `3 T H W` in [-1, 1]."""
        text = self.text_embedding(prompt)
        images = self.image_embeddings(video_to_uint8_frames(video))
        return (100 * (images @ text).clamp(min=0)).float().cpu()

    def score(self, video: torch.Tensor, prompts: str | list[str]) -> torch.Tensor:
        """CLIP score per clip: video `B 3 T H W` (or `3 T H W`), one prompt per clip -> `B`."""
        video = as_video_batch(video)
        if isinstance(prompts, str):
            prompts = [prompts] * video.shape[0]
        if len(prompts) != video.shape[0]:
            raise ShapeError(f"got {len(prompts)} prompts for {video.shape[0]} clips; give one prompt per clip")
        return torch.stack([self.score_frames(v, p).mean() for v, p in zip(video, prompts)])
