"""How an edit fades with distance from the edited frame on long clips (`reducio eval edit`).

A `frames`-frame world clip (48 by default: windows at 0, 8, 16, 24, 32) is edited as in
`edit_world` (one attribute, re-rendered by the world) and edited through the content frame of
its first window (`pipe.content_index`: frame 7 with 16-frame windows); the pipeline
carries the edit window by window (each window decoded around the previous window's last frame).
Per frame t, against the world's edited clip: PSNR of the edit, of the pasted edited frame, and
the per-frame evaluator verdict; then pooled by distance from the edited frame. References on the unedited
clip: the chained reconstruction (the same window scheme, no edit: the VAE's own drift) and the
usual reconstruction in independent windows, each with its true content frame.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from reducio.data.reconstruction import reconstruct_clip
from reducio.data.synthetic.render import render
from reducio.data.synthetic.world import make_clip
from reducio.eval.edit_world import (KINDS, as_video, edit_rng, edit_scene, frame_psnr, psnr_by_distance,
                                     run_pipe)
from reducio.eval.shapes import ShapesEvaluator

# distance buckets of the Markdown table: (first, last) distance, inclusive
BUCKETS = ((0, 0), (1, 4), (5, 8), (9, 16), (17, 24), (25, 32), (33, 40), (41, 56))


def long_clip_records(pipe, evaluator: ShapesEvaluator, index: int, split: str, *, frames: int = 48,
                      size: int = 64, kinds: tuple[str, ...] = KINDS) -> dict[str, Any]:
    """Per-frame PSNR and verdicts of every kind of edit of one long clip, and its references."""
    clip = make_clip(index, split, size=size, frames=frames)
    video = as_video(clip.video)                                                      # 3 T H W
    record: dict[str, Any] = {
        "index": index, "seed": clip.seed,
        "chained_recon": frame_psnr(run_pipe(pipe, video, None), video),
        "window_recon": frame_psnr(reconstruct_clip(pipe.vae, video), video),
        "edits": {},
    }
    for kind in kinds:
        scene, change = edit_scene(clip.scene, kind, edit_rng(clip.seed, kind))
        world = as_video(render(scene))
        image = world[:, pipe.content_index]
        edit = run_pipe(pipe, video, image)
        verdict = evaluator.evaluate_frames(edit, scene.spec)
        record["edits"][kind] = {
            "change": change, "edit": frame_psnr(edit, world),
            "paste": frame_psnr(image[:, None].expand_as(world), world),
            "holds": [frame["joint"] for frame in verdict.frames],
            "direction": evaluator.evaluate(edit, scene.spec).direction,
        }
    return record


def summarise_long(records: list[dict[str, Any]], kinds: tuple[str, ...], centre: int) -> dict[str, Any]:
    """PSNR and the share of frames that hold the edit, by distance from the edited frame `centre`
    (all kinds pooled, and per kind), plus the references' PSNR by distance."""
    def by_distance(rows: list[list[float]]) -> dict[str, float]:
        return psnr_by_distance(rows, centre) if rows else {}

    out: dict[str, Any] = {
        "clips": len(records),
        "chained_recon": by_distance([r["chained_recon"] for r in records]),
        "window_recon": by_distance([r["window_recon"] for r in records]),
    }
    for kind in (*kinds, "all"):
        edits = [r["edits"][k] for r in records for k in kinds if kind in ("all", k)]
        out[kind] = {
            "edit": by_distance([e["edit"] for e in edits]),
            "paste": by_distance([e["paste"] for e in edits]),
            "holds": by_distance([[float(h) for h in e["holds"]] for e in edits]),  # share of frames
            "direction": float(np.mean([e["direction"] for e in edits])) if edits else float("nan"),
        }
    return out


def bucketed(by_distance: dict[str, float]) -> dict[str, float]:
    """Distance buckets (`BUCKETS`) -> mean over the distances in each (equal weight per distance)."""
    out = {}
    for lo, hi in BUCKETS:
        values = [v for d, v in by_distance.items() if lo <= int(d) <= hi]
        if values:
            out[f"{lo}" if lo == hi else f"{lo}-{hi}"] = float(np.mean(values))
    return out


def long_clip_split(pipe, split: str, count: int, *, frames: int = 48, size: int = 64,
                    kinds: tuple[str, ...] = KINDS, first: int = 0,
                    progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure clips first .. first + count - 1 of `split` at `frames` frames."""
    evaluator = ShapesEvaluator()
    start = time.perf_counter()
    records = []
    for i in range(first, first + count):
        records.append(long_clip_records(pipe, evaluator, i, split, frames=frames, size=size, kinds=kinds))
        if progress is not None and ((i - first + 1) % 5 == 0 or i - first + 1 == count):
            progress(f"long {split} ({frames} frames): {i - first + 1}/{count} clips")
    return {"split": split, "frames": frames, "first": first, "count": count,
            "summary": summarise_long(records, kinds, pipe.content_index), "seconds": round(time.perf_counter() - start, 1),
            "records": records}


__all__ = ["BUCKETS", "bucketed", "long_clip_records", "long_clip_split", "summarise_long"]
