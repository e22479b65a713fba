"""Stage 2 alone on the shapes world: image-to-video from each clip's true content frame, judged
by the world evaluator (`reducio eval i2v`, docs/evaluate.md).

For clip i of a split (`"test"`, or `"test:diagonal"` for the opt-in diagonal motion set), the
pipeline gets the clip's canonical caption and its true middle frame (frame 7, rendered by the
world), generates 16 frames with seed `seed + i`, and `ShapesEvaluator` judges the clip against
the caption: accuracy per attribute and joint, a shuffled-caption control (each video judged
against another clip's caption: near chance), accuracy by object count and by prompt direction,
and for each prompt direction what directions the evaluator saw.

A split with the diagonal motion set is judged with the eight-way motion reading
(`ShapesEvaluator(motion=...)`); a version-1 split with the frozen four-way evaluator, so its
numbers compare with every earlier measurement.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from reducio.data.synthetic.world import make_clip, parse_split_spec
from reducio.eval.shapes import ShapesAccuracy, ShapesEvaluator
from reducio.models.vae.config import content_frame_index
from reducio.pipelines import ReducioImageToVideoPipeline

logger = logging.getLogger(__name__)



def derangement(count: int, seed: int = 12345) -> np.ndarray:
    """A fixed permutation with no fixed point: video i is judged against caption perm[i] != i."""
    permutation = np.random.default_rng(seed).permutation(count)
    for i in range(count):  # a swap with the next place never makes a new fixed point
        if permutation[i] == i:
            j = (i + 1) % count
            permutation[i], permutation[j] = permutation[j], permutation[i]
    return permutation


def world_i2v_split(pipe, split_spec: str, count: int, *, size: int = 64, seed: int = 0,
                    steps: int | None = None, guidance: float | None = None,
                    progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Generate and judge clips 0..count-1 of `split_spec` (see the module docstring)."""
    split, motion = parse_split_spec(split_spec)
    evaluator = ShapesEvaluator(motion=motion)
    clips = [make_clip(i, split, size=size, motion=motion) for i in range(count)]
    prompts = [clip.caption for clip in clips]
    permutation = derangement(count) if count > 1 else np.zeros(1, dtype=int)
    own, control = ShapesAccuracy(), ShapesAccuracy()
    by_count: dict[int, ShapesAccuracy] = {}
    by_direction: dict[str, ShapesAccuracy] = {}
    seen_by_direction: dict[str, Counter] = {}
    joint_per_prompt = []
    kwargs: dict[str, Any] = {"output_type": "pt"}
    if steps is not None:
        kwargs["num_inference_steps"] = steps
    if guidance is not None:
        kwargs["guidance_scale"] = guidance
    start = time.perf_counter()
    for i, clip in enumerate(clips):
        content = clip.video[content_frame_index(clip.scene.frames)]                     # S S 3, uint8
        image = torch.from_numpy(content).permute(2, 0, 1).float()[None] / 127.5 - 1     # 1 3 S S
        generator = torch.Generator().manual_seed(seed + i)  # one per video: independent of batching
        frames = pipe(image, prompts[i], generator=generator, **kwargs).frames[0]         # T 3 S S in [0, 1]
        video = frames.permute(1, 0, 2, 3) * 2.0 - 1.0                                   # 3 T S S in [-1, 1]
        verdict = evaluator.evaluate(video, prompts[i])
        own.update(verdict)
        by_count.setdefault(len(verdict.objects), ShapesAccuracy()).update(verdict)
        for obj in verdict.objects:  # per prompt object: its direction word and what was seen
            by_direction.setdefault(obj.expected.direction, ShapesAccuracy()).update(verdict)
            seen = obj.detected.direction if obj.detected is not None and obj.detected.direction else "none"
            seen_by_direction.setdefault(obj.expected.direction, Counter())[seen] += 1
        joint_per_prompt.append(int(verdict.joint))
        control.update(evaluator.evaluate(video, prompts[int(permutation[i])]))
        if progress is not None and ((i + 1) % 20 == 0 or i + 1 == count):
            progress(f"{split_spec}: {i + 1}/{count} joint {own.summary()['joint']:.3f} "
                     f"control {control.summary()['joint']:.3f}")
    seconds = time.perf_counter() - start
    return {
        "split": split, "motion": motion, "evaluator_motion": evaluator.motion, "prompts": count,
        "accuracy": own.summary(), "shuffled_control": control.summary(),
        "by_object_count": {str(n): acc.summary() for n, acc in sorted(by_count.items())},
        "by_direction": {d: acc.summary() for d, acc in sorted(by_direction.items())},
        "seen_by_direction": {d: dict(c.most_common()) for d, c in sorted(seen_by_direction.items())},
        "seconds": round(seconds, 1), "seconds_per_video": round(seconds / max(1, count), 3),
        "joint_per_prompt": joint_per_prompt,
    }


def load_i2v_pipeline(path: str | None, *, lora: str | Path | None = None, lora_scale: float = 1.0):
    """The image-to-video pipeline at `path` (None: the built-in one), with a LoRA on its DiT
    (`load_lora_weights`, at `lora_scale`) when given."""
    pipe = ReducioImageToVideoPipeline.from_pretrained("tiny" if path is None else path)
    pipe.set_progress_bar_config(disable=True)
    if lora is not None:
        pipe.load_lora_weights(lora, adapter_name="lora")
        pipe.set_adapters(["lora"], [lora_scale])
    return pipe
