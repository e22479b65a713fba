"""Does a trained Reducio-DiT use its text? (`reducio eval dit-conditions`, docs/dit-design.md)

The x0 error on noised true latents with the right caption, with the caption's direction swapped,
and with no caption (the learned null text), per noise level. A DiT that follows the prompt's
motion predicts x0 clearly better with the right caption than with the swapped one at high noise
(where the noisy latent no longer shows the motion); equal columns mean the text is ignored.
Shapes-world captions only (the swap needs "moving left/right/up/down"); image conditions from
the tiny preset's encoders.
"""

from __future__ import annotations

from typing import Any

import torch

from reducio.conditioning.image_content import PooledRGBContentEncoder
from reducio.conditioning.image_semantic import PatchPixelSemanticEncoder
from reducio.data.latents import LatentShardDataset
from reducio.diffusion import make_objective
from reducio.diffusion.config import DiffusionConfig
from reducio.models.dit import ReducioDiT

SWAPS = (("left", "right"), ("right", "left"), ("up", "down"), ("down", "up"))
LEVELS = (100, 300, 500, 700, 900, 999)  # noise levels (timesteps of 1000)
VARIANTS = ("right caption", "direction swapped", "no caption")


def swap_direction(caption: str) -> str:
    """The caption with its first motion word reversed ("moving left" -> "moving right")."""
    for a, b in SWAPS:
        if f"moving {a}" in caption:
            return caption.replace(f"moving {a}", f"moving {b}", 1)
    return caption


def spread_items(data: str, count: int) -> list[dict[str, Any]]:
    """`count` items of a latent shard folder (`reducio extract`), spread evenly over it."""
    shards = LatentShardDataset(data)
    return [shards[i] for i in range(0, len(shards), max(1, len(shards) // count))][:count]


@torch.no_grad()
def x0_error_by_condition(dit: ReducioDiT, items: list[dict[str, Any]], text_encoder,
                          levels: tuple[int, ...] = LEVELS) -> dict[int, dict[str, float]]:
    """level -> {variant: x0 MSE} over the items' latents (the global torch generator draws the noise)."""
    objective_name = dit.config.prediction_type
    objective = make_objective(DiffusionConfig(objective=objective_name))
    latent = torch.stack([it["latent"] for it in items]).float()                 # B C t h w
    frames = torch.stack([it["content_frame"] for it in items]).float()          # B 3 H W
    right = text_encoder.encode([it["caption"] for it in items])
    wrong = text_encoder.encode([swap_direction(it["caption"]) for it in items])
    image = dict(semantic=PatchPixelSemanticEncoder().encode(frames), content=PooledRGBContentEncoder().encode(frames))
    variants = {"right caption": dict(text=right.tokens, text_mask=right.mask),
                "direction swapped": dict(text=wrong.tokens, text_mask=wrong.mask),
                "no caption": dict(text=right.tokens, text_mask=right.mask,
                                   drop_text=torch.ones(len(items), dtype=torch.bool))}
    errors: dict[int, dict[str, float]] = {}
    for level in levels:
        t = torch.full((len(items),), level if objective_name == "epsilon" else float(level))
        batch = objective.prepare(latent, noise=torch.randn_like(latent), timesteps=t)
        errors[level] = {}
        for name, conditions in variants.items():
            prediction = dit(batch.noisy, batch.timesteps, **image, **conditions, return_dict=False)[0]
            x0 = objective.predict_x0(batch.noisy, prediction, t)
            errors[level][name] = ((x0 - latent) ** 2).mean().item()
    return errors


__all__ = ["LEVELS", "VARIANTS", "spread_items", "swap_direction", "x0_error_by_condition"]
