"""Prompt following of a text-to-video pipeline on the synthetic shapes world (`reducio eval
pipeline`, docs/evaluate.md).

For each split take the canonical captions of clips 0..N-1, generate one video per caption (seed =
base seed + index) and judge it with `ShapesEvaluator`: accuracy per attribute (colour, shape,
direction, background) and joint (all correct). The control pairs each video with the caption of
another clip of the same split (a fixed derangement): it must land near chance.
`by_object_count` splits the accuracy by the number of objects the prompt names (1 or 2).
`ghost_share` is the mean share of pixels away from every object that differ from the background
(`reducio.eval.ghosts`), for the generated videos and for the world's own clips of the same
prompts (`world`, the floor). `two_object_motion` counts, over the two-object prompts whose objects
move different ways, where each object went (`MotionBinding`: its own direction, the other
object's, another, none, or no object).

With `image_to_video` the pipeline is stage 2 alone: each video is generated from its clip's true
content frame (rendered by the world) and caption, so stage-1 errors do not count.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import torch

from reducio.data.synthetic.world import make_clip, sample_scene, seed_for
from reducio.eval.ghosts import ghost_share
from reducio.eval.shapes import MotionBinding, ShapesAccuracy, ShapesEvaluator
from reducio.models.vae.config import content_frame_index


def captions(split: str, count: int, size: int) -> list[str]:
    """Canonical captions of clips 0..count-1 of a split (the scenes only; nothing rendered)."""
    return [sample_scene(seed_for(i, split), split, size=size).caption for i in range(count)]


def control_permutation(count: int) -> np.ndarray:
    """The control's caption order: a fixed random permutation whose fixed points (found once, up
    front) are each swapped with the next place; the published numbers of this measurement use it.
    Two adjacent fixed points swap back, so it is not always a derangement: for count 2 it is the
    identity (the control then judges each video against its own caption); the counts measured
    (3 and more) have no fixed point (tests/eval/test_eval_world_commands.py)."""
    permutation = np.random.default_rng(12345).permutation(count)
    for i in np.flatnonzero(permutation == np.arange(count)):
        j = (i + 1) % count
        permutation[i], permutation[j] = permutation[j], permutation[i]
    return permutation


def content_frame(split: str, index: int, size: int) -> torch.Tensor:
    """Clip `index`'s true content frame as (1, 3, S, S) in [-1, 1]."""
    clip = make_clip(index, split, size=size)
    pixels = clip.video[content_frame_index(clip.scene.frames)]                            # S S 3 uint8
    return torch.from_numpy(pixels).permute(2, 0, 1).float()[None] / 127.5 - 1


def generate(pipe, prompt: str, generator: torch.Generator, *, size: int, steps: int | None,
             guidance: float | None, stage1_candidates: int | None,
             image: torch.Tensor | None, image_guidance: float | None = None) -> torch.Tensor:
    """One video (3, T, H, W) in [-1, 1]; from `image` (1, 3, S, S) when given (image to video)."""
    kwargs: dict[str, Any] = {"num_inference_steps": steps, "generator": generator}
    if guidance is not None:
        kwargs["guidance_scale"] = guidance
    if image_guidance is not None:
        kwargs["image_guidance_scale"] = image_guidance
    if stage1_candidates is not None and image is None:
        kwargs["num_candidates"] = stage1_candidates
    if image is not None:
        out = pipe(image, prompt, output_type="pt", **kwargs)
    else:
        out = pipe(prompt, output_type="pt", height=size, width=size, **kwargs)
    return out.frames[0].permute(1, 0, 2, 3) * 2.0 - 1.0  # T 3 H W in [0, 1] -> 3 T H W in [-1, 1]


def pipeline_world_split(pipe, split: str, count: int, *, size: int = 64, seed: int = 0,
                         steps: int | None = None, guidance: float | None = None,
                         image_guidance: float | None = None,
                         stage1_candidates: int | None = None, image_to_video: bool = False,
                         batch: int = 20, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Generate and judge the videos of clips 0..count-1 of `split` (see the module docstring);
    a progress line every `batch` prompts."""
    evaluator = ShapesEvaluator()
    prompts = captions(split, count, size)
    own, control = ShapesAccuracy(), ShapesAccuracy()
    by_count: dict[int, ShapesAccuracy] = {}      # one- and two-object prompts fail differently
    binding = MotionBinding()
    permutation = control_permutation(len(prompts))
    joint_per_prompt = []
    ghosts, world_ghosts = [], []
    start = time.perf_counter()
    for lo in range(0, len(prompts), batch):
        for index in range(lo, min(lo + batch, len(prompts))):
            generator = torch.Generator().manual_seed(seed + index)  # one per video: independent of batch
            image = content_frame(split, index, size) if image_to_video else None
            video = generate(pipe, prompts[index], generator, size=size, steps=steps, guidance=guidance,
                             stage1_candidates=stage1_candidates, image=image, image_guidance=image_guidance)
            verdict = evaluator.evaluate(video, prompts[index])
            own.update(verdict)
            by_count.setdefault(len(verdict.objects), ShapesAccuracy()).update(verdict)
            binding.update(verdict)
            joint_per_prompt.append(int(verdict.joint))
            ghosts.append(ghost_share(video, len(verdict.objects)))
            world_ghosts.append(ghost_share(make_clip(index, split, size=size).video, len(verdict.objects)))
            control.update(evaluator.evaluate(video, prompts[permutation[index]]))
        if progress is not None:
            progress(f"{split}: {min(lo + batch, len(prompts))}/{len(prompts)} "
                     f"joint {own.summary()['joint']:.3f} control {control.summary()['joint']:.3f}")
    seconds = time.perf_counter() - start
    return {"prompts": len(prompts), "accuracy": own.summary(), "shuffled_control": control.summary(),
            "by_object_count": {f"{n}": acc.summary() for n, acc in sorted(by_count.items())},
            "two_object_motion": binding.summary(),
            "ghost_share": {"generated": round(float(np.mean(ghosts)), 5),
                            "world": round(float(np.mean(world_ghosts)), 5)},
            "seconds": round(seconds, 1), "seconds_per_video": round(seconds / len(prompts), 3),
            "joint_per_prompt": joint_per_prompt}   # for paired comparisons of two pipelines


__all__ = ["captions", "content_frame", "control_permutation", "generate", "pipeline_world_split"]
