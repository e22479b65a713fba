"""Does a trained Reducio-DiT use its text? x0 error on noised true latents with the right caption,
the caption with its direction swapped, and no caption (the learned null text), per noise level.

    python scripts/diagnose_dit_conditions.py --dit runs/dit-tiny-flow/final --data data/latents/shapes-64

A DiT that follows the prompt's motion predicts x0 clearly better with the right caption than with
the swapped one at high noise (where the noisy latent no longer shows the motion); equal columns mean
the text is ignored (docs/generate.md, the status of the built-in default). Shapes-world captions
only (the swap needs "moving left/right/up/down"); image conditions as the tiny preset's encoders.
"""

from __future__ import annotations

import argparse

import torch

from reducio.conditioning.image_content import PooledRGBContentEncoder
from reducio.conditioning.image_semantic import PatchPixelSemanticEncoder
from reducio.data.latents import LatentShardDataset
from reducio.diffusion import make_objective
from reducio.diffusion.config import DiffusionConfig
from reducio.models.dit import ReducioDiT
from reducio.pipelines.components import load_text_encoder

SWAPS = (("left", "right"), ("right", "left"), ("up", "down"), ("down", "up"))


def swap_direction(caption: str) -> str:
    for a, b in SWAPS:
        if f"moving {a}" in caption:
            return caption.replace(f"moving {a}", f"moving {b}", 1)
    return caption


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dit", required=True, help="a DiT model folder (final/ or `reducio train export`)")
    parser.add_argument("--data", default="data/latents/shapes-64", help="latent shards (reducio extract)")
    parser.add_argument("--count", type=int, default=16, help="clips, spread over the shards")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    dit = ReducioDiT.from_pretrained(args.dit).eval()
    objective_name = dit.config.prediction_type
    objective = make_objective(DiffusionConfig(objective=objective_name))
    shards = LatentShardDataset(args.data)
    items = [shards[i] for i in range(0, len(shards), max(1, len(shards) // args.count))][:args.count]
    latent = torch.stack([it["latent"] for it in items]).float()                 # B C t h w
    frames = torch.stack([it["content_frame"] for it in items]).float()          # B 3 H W
    text = load_text_encoder("minilm")
    right = text.encode([it["caption"] for it in items])
    wrong = text.encode([swap_direction(it["caption"]) for it in items])
    image = dict(semantic=PatchPixelSemanticEncoder().encode(frames), content=PooledRGBContentEncoder().encode(frames))
    variants = {"right caption": dict(text=right.tokens, text_mask=right.mask),
                "direction swapped": dict(text=wrong.tokens, text_mask=wrong.mask),
                "no caption": dict(text=right.tokens, text_mask=right.mask,
                                   drop_text=torch.ones(len(items), dtype=torch.bool))}
    print(f"{args.dit} ({objective_name}), {len(items)} clips: x0 MSE per noise level")
    print("level  " + "  ".join(f"{name:>17}" for name in variants))
    with torch.no_grad():
        for level in (100, 300, 500, 700, 900, 999):
            t = torch.full((len(items),), level if objective_name == "epsilon" else float(level))
            batch = objective.prepare(latent, noise=torch.randn_like(latent), timesteps=t)
            errors = []
            for conditions in variants.values():
                x0 = objective.predict_x0(batch.noisy, dit(batch.noisy, batch.timesteps, **image, **conditions), t)
                errors.append(((x0 - latent) ** 2).mean().item())
            print(f"{level:5d}  " + "  ".join(f"{e:17.3f}" for e in errors))


if __name__ == "__main__":
    from reducio.errors import ReducioError

    try:
        main()
    except ReducioError as error:  # a bad path or model: the message, not a traceback
        raise SystemExit(f"{__file__}: error: {error}") from None
