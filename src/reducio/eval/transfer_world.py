"""Motion transfer measured on the shapes world (`reducio eval transfer`).

Pairs of one-object clips of a split: A = the i-th one-object clip, B = another one (a fixed
derangement). `ReducioMotionTransferPipeline(A, B's frame 7)` should show B's object on B's
background moving like A's object. Per pair:

- identity: the per-frame evaluator verdict that B's colour, shape, background and a single
  object hold in every frame (and the share of frames that do);
- direction: the clip-level direction of B's object equals A's (and, where A's and B's own
  directions differ, how often it follows B's instead: a still frame does not show B's motion, so
  this is the rate of coincidence or leakage);
- speed: the measured speed of B's object over A's true speed (fractions of the side per frame);
- ghost: an object of A's colour (A's and B's colours differ) is seen in the output;
- target PSNR: against the world's render of B's object moving with A's direction and speed,
  placed where B's frame 7 shows it (pairs where that path stays inside the frame);
- where the output changes: the correlation of its change map |x_t - x_7| (per pixel and frame)
  with A's own change map (the motion happens at A's places) and with the target's (it happens
  around B's object, as a transfer should).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable

import numpy as np
import torch

from reducio.data.synthetic.render import render
from reducio.data.synthetic.world import ShapesClip, make_clip
from reducio.eval.edit_world import as_video, frame_psnr, run_pipe, world_content_frame
from reducio.eval.shapes import ShapesEvaluator, judge
from reducio.eval.world_i2v import derangement

SPEED_TOLERANCE = 0.25  # |measured / true - 1| within this counts as the speed transferred


def one_object_clips(split: str, count: int, *, size: int = 64, first: int = 0) -> list[ShapesClip]:
    """The first `count` one-object clips of `split` from index `first` on."""
    clips, index = [], first
    while len(clips) < count:
        clip = make_clip(index, split, size=size)
        if len(clip.scene.objects) == 1:
            clips.append(clip)
        index += 1
    return clips


def target_scene(a: ShapesClip, b: ShapesClip, content: int):
    """B's object moving with A's direction and speed, at its place in B's content frame `content`;
    None when the path leaves the frame."""
    obj_a, obj_b = a.scene.objects[0], b.scene.objects[0]
    dx, dy = obj_a.unit_vector
    x, y = obj_b.centre(content)
    moved = replace(obj_b, direction=obj_a.direction, speed=obj_a.speed,
                    start_x=x - dx * obj_a.speed * content, start_y=y - dy * obj_a.speed * content)
    size = b.scene.size
    for t in range(b.scene.frames):
        x0, y0, x1, y1 = moved.box(t)
        if x0 < 0 or y0 < 0 or x1 > size or y1 > size:
            return None
    return replace(b.scene, objects=(moved,))


def change_correlation(a: torch.Tensor, b: torch.Tensor, content: int) -> float | None:
    """Pearson correlation of the change maps |x_t - x_content| (mean over channels) of two clips
    (3, T, H, W)."""
    maps = [(x - x[:, content:content + 1]).abs().mean(dim=0).flatten() for x in (a, b)]  # T*H*W
    if min(float(m.std()) for m in maps) == 0.0:
        return None  # a clip that never changes: no correlation
    return float(torch.corrcoef(torch.stack(maps))[0, 1])


def measure_pair(pipe, evaluator: ShapesEvaluator, a: ShapesClip, b: ShapesClip) -> dict[str, Any]:
    """Transfer A's motion onto B's content frame and score it (see the module docstring)."""
    obj_a, obj_b = a.scene.objects[0], b.scene.objects[0]
    index = world_content_frame(pipe, b.scene.frames)
    motion, content = as_video(a.video), as_video(b.video)
    out = run_pipe(pipe, motion, content[:, index])                                   # 3 T H W
    wanted = replace(b.scene, objects=(replace(obj_b, direction=obj_a.direction),))
    frames = evaluator.evaluate_frames(out, wanted.spec)
    seen = evaluator.describe(out)
    verdict = judge(seen, wanted.spec)
    found = next((o for o in seen.objects if o.colour == obj_b.colour), None)
    true_speed = obj_a.speed / a.scene.size
    speed = None if found is None else max(abs(found.velocity[0]), abs(found.velocity[1]))
    target = target_scene(a, b, index)
    target_video = None if target is None else as_video(render(target))
    return {
        "a": a.seed, "b": b.seed, "a_caption": a.caption, "b_caption": b.caption,
        "identity_frames_hold": frames.holds(), "identity_frames_fraction": frames.fraction(),
        "direction": verdict.direction,
        "seen_direction": None if found is None else found.direction,
        "follows_b": (found is not None and obj_a.direction != obj_b.direction
                      and found.direction == obj_b.direction),
        "directions_differ": obj_a.direction != obj_b.direction,
        "speed_ratio": None if speed is None else speed / true_speed,
        "ghost": obj_a.colour != obj_b.colour and any(o.colour == obj_a.colour for o in seen.objects),
        "target_psnr": None if target is None else float(np.mean(frame_psnr(out, target_video))),
        "change_vs_a": change_correlation(out, motion, index),
        "change_vs_target": None if target is None else change_correlation(out, target_video, index),
    }


def _mean(values: list[float | None]) -> float | None:
    """Mean of the values that are not None (None when there are none)."""
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def summarise_pairs(records: list[dict[str, Any]]) -> dict[str, Any]:
    ratios = [r["speed_ratio"] for r in records if r["speed_ratio"] is not None]
    differ = [r for r in records if r["directions_differ"]]
    targets = [r["target_psnr"] for r in records if r["target_psnr"] is not None]
    return {
        "pairs": len(records),
        "identity_frames_hold": float(np.mean([r["identity_frames_hold"] for r in records])),
        "identity_frames_fraction": float(np.mean([r["identity_frames_fraction"] for r in records])),
        "direction_of_a": float(np.mean([r["direction"] for r in records])),
        "direction_of_b_when_different": float(np.mean([r["follows_b"] for r in differ])) if differ else None,
        "no_motion_seen": float(np.mean([r["seen_direction"] is None for r in records])),
        "speed_ratio_median": float(np.median(ratios)) if ratios else None,
        "speed_within_tolerance": float(np.mean([abs(x - 1) <= SPEED_TOLERANCE for x in ratios])) if ratios else None,
        "ghost_of_a": float(np.mean([r["ghost"] for r in records])),
        "target_psnr": float(np.mean(targets)) if targets else None,
        "target_pairs": len(targets),
        "change_vs_a": _mean([r["change_vs_a"] for r in records]),
        "change_vs_target": _mean([r["change_vs_target"] for r in records]),
        "success": float(np.mean([r["identity_frames_hold"] and r["direction"] for r in records])),
    }


def transfer_world_split(pipe, split: str, count: int, *, size: int = 64, first: int = 0,
                         progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure `count` (A, B) pairs of one-object clips of `split`."""
    evaluator = ShapesEvaluator()
    clips = one_object_clips(split, count, size=size, first=first)
    partner = derangement(count) if count > 1 else np.zeros(1, dtype=int)
    start = time.perf_counter()
    records = []
    for i, a in enumerate(clips):
        records.append(measure_pair(pipe, evaluator, a, clips[int(partner[i])]))
        if progress is not None and ((i + 1) % 10 == 0 or i + 1 == count):
            progress(f"transfer {split}: {i + 1}/{count} pairs")
    return {"split": split, "first": first, "count": count, "summary": summarise_pairs(records),
            "seconds": round(time.perf_counter() - start, 1), "records": records}


__all__ = ["measure_pair", "one_object_clips", "summarise_pairs", "target_scene", "transfer_world_split"]
