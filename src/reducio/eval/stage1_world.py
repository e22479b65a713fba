"""A stage-1 image generator on its own, on the shapes world (`reducio eval stage1`, docs/generate.md).

`x0_error_by_sigma`: the x0 error (MSE on [-1, 1] pixels) of one denoising call on the true content
frames of test clips noised to each sigma, next to predicting each frame's mean colour. A model
that never trained near sigma 1 (where every sampler starts) shows a cliff there
(docs/decisions.md). `guidance_accuracy`: one sample per test caption at a guidance scale, judged
by the shapes-world evaluator as a still clip: background, colour, shape, whether exactly the
prompt's objects were found, and all four at once (joint).
"""

from __future__ import annotations

import numpy as np
import torch

from reducio.data.synthetic.world import make_clip
from reducio.eval.shapes import ShapeConfusion, ShapesEvaluator
from reducio.models.vae.config import content_frame_index
from reducio.pipelines.stage1 import ReducioStage1Generator

ATTRIBUTES = ("background", "colour", "shape", "object_count", "joint")


def world_frames(count: int, split: str = "test", size: int = 64) -> tuple[list[str], torch.Tensor, int]:
    """(captions, content frames (B, 3, S, S) in [-1, 1], frames per clip) of clips 0..count-1 of
    a shapes-world split."""
    clips = [make_clip(i, split, size) for i in range(count)]
    frames = torch.stack([torch.from_numpy(np.asarray(c.video[content_frame_index(c.scene.frames)]))
                          .permute(2, 0, 1).float() / 127.5 - 1 for c in clips])                # B 3 H W
    return [clip.caption for clip in clips], frames, clips[0].scene.frames


@torch.no_grad()
def mean_colour_error(frames: torch.Tensor) -> float:
    """The x0 MSE of predicting each frame (B, 3, H, W) by its mean colour: the floor to beat."""
    x0 = frames[:, :, None]                                                               # B 3 1 H W
    return ((x0 - x0.mean(dim=(2, 3, 4), keepdim=True)) ** 2).mean().item()


@torch.no_grad()
def x0_error_by_sigma(gen: ReducioStage1Generator, captions: list[str], frames: torch.Tensor,
                      sigmas: list[float]) -> dict[float, float]:
    """sigma -> x0 MSE of one denoising call on `frames` (B, 3, H, W) noised to sigma (the global
    torch generator draws the noise)."""
    text = gen.encode_prompt(captions)
    x0 = frames[:, :, None]                                                               # B 3 1 H W
    errors = {}
    for sigma in sigmas:
        t = torch.full((len(captions),), sigma * gen.objective.config.num_train_timesteps)
        noisy = gen.objective.add_noise(x0, torch.randn_like(x0), t)
        prediction = gen.denoise(noisy, t, text=text.tokens, text_mask=text.mask)
        errors[sigma] = ((gen.objective.predict_x0(noisy, prediction, t) - x0) ** 2).mean().item()
    return errors


@torch.no_grad()
def guidance_accuracy(gen: ReducioStage1Generator, captions: list[str], *, scale: float, steps: int,
                      seed: int, evaluator: ShapesEvaluator, frames: int,
                      confusion: ShapeConfusion | None = None) -> dict[str, float]:
    """Share of the samples (one per caption, seeded once with `seed`) the evaluator finds right,
    per attribute of `ATTRIBUTES`; each sample is judged as a still clip of `frames` frames.

    `confusion`, when given, counts each asked-for shape per background by the shape drawn."""
    images = gen(captions, num_inference_steps=steps, guidance_scale=scale,
                 generator=torch.Generator().manual_seed(seed))                           # B 3 H W
    hits = dict.fromkeys(ATTRIBUTES, 0)
    for image, caption in zip(images, captions):
        verdict = evaluator.evaluate(image[:, None].expand(3, frames, *image.shape[1:]), caption)
        for name in ATTRIBUTES[:-1]:
            hits[name] += bool(getattr(verdict, name))
        hits["joint"] += all(bool(getattr(verdict, name)) for name in ATTRIBUTES[:-1])
        if confusion is not None:
            confusion.update(verdict)
    return {name: value / len(captions) for name, value in hits.items()}


__all__ = ["ATTRIBUTES", "guidance_accuracy", "mean_colour_error", "world_frames", "x0_error_by_sigma"]
