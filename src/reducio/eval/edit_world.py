"""Editing by the middle frame, measured on the synthetic shapes world (`reducio eval edit`).

For clip i of a split, ONE attribute is changed in the world and the same clip is re-rendered
(same seed, same geometry and motion): an object's colour, an object's shape, or the background
(`edit_scene`; which object and which new value are drawn from the clip's seed). The edited
clip's frame 7 is the edited frame a perfect image editor would give. Methods, each compared with
the world's render of the edited clip:

- edit: `ReducioEditPipeline(original clip, edited frame 7)`, the method under test;
- paste: the edited frame in every frame (keeps the edit, loses all motion);
- recon: the unedited reconstruction (keeps the motion, loses the edit);
- ceiling: the VAE's reconstruction of the world's edited clip (what the VAE gives when the edit
  is made before encoding: the best an edit through this VAE can hope for);
- world: the edited clip itself (PSNR infinite; its verdicts are the evaluator's own ceiling).

Scores: PSNR (per frame, and by distance from the edited frame) and SSIM (`reducio.eval.ssim`,
equal to scikit-image's below 384 px) against the world's edited clip; the evaluator's per-frame
verdict that the edited scene's colours, shapes, background and object count hold in every frame
(`ShapesEvaluator.evaluate_frames`); its clip-level verdict that every object moves in its
direction; success = both.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable

import numpy as np
import torch

from reducio.data.synthetic.render import render
from reducio.data.synthetic.vocab import BACKGROUNDS, COLOURS, SHAPES
from reducio.data.synthetic.world import ShapesScene, make_clip
from reducio.eval.reconstruction import psnr_from_mse, ssim
from reducio.errors import ConfigError
from reducio.models.vae.config import content_frame_index
from reducio.eval.shapes import ShapesEvaluator, judge, judge_frames

KINDS = ("colour", "shape", "background")
METHODS = ("edit", "paste", "recon", "ceiling", "world")


def world_content_frame(pipe, frames: int) -> int:
    """The frame the measurements edit in the world's `frames`-frame clips: their content frame,
    `content_frame_index(frames)`. ConfigError unless the pipeline's VAE has windows of that length
    (one with another window decodes around another frame: it would be judged against the wrong one)."""
    index = content_frame_index(frames)
    if pipe.window != frames:
        raise ConfigError(f"the world measurements edit frame {index} of {frames}-frame clips, but this "
                          f"VAE's content frame is {pipe.content_index} (window {pipe.window}); use a VAE "
                          f"with {frames}-frame windows")
    return index


def edit_scene(scene: ShapesScene, kind: str, rng: np.random.Generator) -> tuple[ShapesScene, str]:
    """The scene with one attribute changed (geometry and motion kept) and a words of the change."""
    if kind == "background":
        new = _pick(rng, [b for b in BACKGROUNDS if b != scene.background])
        return replace(scene, background=new), f"background {scene.background} -> {new}"
    if kind not in ("colour", "shape"):
        raise ValueError(f"unknown edit kind {kind!r}; valid: {list(KINDS)}")
    k = int(rng.integers(len(scene.objects)))
    obj = scene.objects[k]
    if kind == "colour":
        taken = {o.colour for o in scene.objects}
        new = _pick(rng, [c for c in COLOURS if c not in taken])
        edited = replace(obj, colour=new)
    else:
        new = _pick(rng, [s for s in SHAPES if s != obj.shape])
        edited = replace(obj, shape=new)
    objects = scene.objects[:k] + (edited,) + scene.objects[k + 1:]
    return replace(scene, objects=objects), f"{obj.colour} {obj.shape}: {kind} -> {new}"


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def edit_rng(seed: int, kind: str) -> np.random.Generator:
    """The generator that picks clip `seed`'s edit of `kind` (independent of the other kinds)."""
    return np.random.default_rng([seed, KINDS.index(kind)])


def as_video(pixels: np.ndarray) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float (3, T, H, W) in [-1, 1]."""
    return torch.from_numpy(pixels).permute(3, 0, 1, 2).float() / 127.5 - 1.0


def run_pipe(pipe, video: torch.Tensor, image: torch.Tensor | None) -> torch.Tensor:
    """One clip (3, T, H, W) through the edit pipeline -> (3, T, H, W) in [-1, 1]."""
    frames = pipe(video[None], None if image is None else image[None], output_type="pt").frames[0]  # T 3 H W
    return frames.permute(1, 0, 2, 3) * 2.0 - 1.0


def frame_psnr(a: torch.Tensor, b: torch.Tensor) -> list[float]:
    """PSNR of each frame of two clips (3, T, H, W) in [-1, 1] (the release's formula)."""
    mse = ((a.clamp(-1, 1) - b.clamp(-1, 1)) / 2).pow(2).mean(dim=(0, 2, 3))  # T
    return [round(psnr_from_mse(float(m)), 3) for m in mse]


class _Judge:
    """Per-frame and clip-level descriptions of one clip, judged against any scene."""

    def __init__(self, evaluator: ShapesEvaluator, video: torch.Tensor, still: bool = False) -> None:
        if still:  # the same frame everywhere: read it once
            one = evaluator.describe(video[:, :1])
            self.frames, self.clip = (one,) * video.shape[1], one
        else:
            self.frames, self.clip = evaluator.describe_frames(video), evaluator.describe(video)

    def scores(self, scene: ShapesScene) -> dict[str, Any]:
        frames = judge_frames(self.frames, scene.spec)
        direction = judge(self.clip, scene.spec).direction
        return {"frames_hold": frames.holds(), "frames_fraction": frames.fraction(),
                "failing_frames": frames.failing(), "direction": direction,
                "success": frames.holds() and direction}


def measure_clip(pipe, evaluator: ShapesEvaluator, index: int, split: str, *, size: int = 64,
                 kinds: tuple[str, ...] = KINDS) -> list[dict[str, Any]]:
    """One record per kind of edit of clip `index` of `split` (see the module docstring)."""
    clip = make_clip(index, split, size=size)
    content = world_content_frame(pipe, clip.scene.frames)
    video = as_video(clip.video)                                                      # 3 T H W
    recon = run_pipe(pipe, video, None)
    recon_judge = _Judge(evaluator, recon)
    records = []
    for kind in kinds:
        scene, change = edit_scene(clip.scene, kind, edit_rng(clip.seed, kind))
        world = as_video(render(scene))                                                # 3 T H W
        image = world[:, content]
        outputs = {"edit": run_pipe(pipe, video, image),
                   "paste": image[:, None].expand_as(world).contiguous(),
                   "recon": recon, "ceiling": run_pipe(pipe, world, None), "world": world}
        methods = {}
        for name, out in outputs.items():
            judged = (recon_judge if name == "recon"
                      else _Judge(evaluator, out, still=name == "paste")).scores(scene)
            if name != "world":
                judged |= {"psnr_frames": frame_psnr(out, world), "ssim": float(ssim(out, world))}
                judged["psnr"] = float(np.mean(judged["psnr_frames"]))
            methods[name] = judged
        records.append({"split": split, "index": index, "seed": clip.seed, "kind": kind, "change": change,
                        "caption": scene.caption, "methods": methods})
    return records


def summarise_records(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per method: mean PSNR / SSIM, PSNR by distance from the edited (content) frame, and verdict rates."""
    out: dict[str, Any] = {"clips": len(records)}
    for name in METHODS:
        rows = [r["methods"][name] for r in records]
        summary = {key: float(np.mean([row[key] for row in rows]))
                   for key in ("frames_hold", "frames_fraction", "direction", "success")}
        if name != "world":
            summary["psnr"] = float(np.mean([row["psnr"] for row in rows]))
            summary["ssim"] = float(np.mean([row["ssim"] for row in rows]))
            per_clip = [row["psnr_frames"] for row in rows]
            summary["psnr_by_distance"] = psnr_by_distance(per_clip, content_frame_index(len(per_clip[0])))
        out[name] = summary
    return out


def psnr_by_distance(per_clip: list[list[float]], centre: int) -> dict[str, float]:
    """Mean PSNR of the frames at each distance |t - centre| (both sides pooled), over clips."""
    table = np.asarray(per_clip, dtype=np.float64)                                   # clips T
    distance = np.abs(np.arange(table.shape[1]) - centre)
    return {str(d): float(table[:, distance == d].mean()) for d in range(int(distance.max()) + 1)}


def edit_world_split(pipe, split: str, count: int, *, size: int = 64, kinds: tuple[str, ...] = KINDS,
                     first: int = 0, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure clips first .. first + count - 1 of `split`: per kind of edit and all together."""
    evaluator = ShapesEvaluator()
    records: list[dict[str, Any]] = []
    start = time.perf_counter()
    for i in range(first, first + count):
        records += measure_clip(pipe, evaluator, i, split, size=size, kinds=kinds)
        if progress is not None and ((i - first + 1) % 10 == 0 or i - first + 1 == count):
            progress(f"edit {split}: {i - first + 1}/{count} clips")
    by_kind = {kind: summarise_records([r for r in records if r["kind"] == kind]) for kind in kinds}
    return {"split": split, "first": first, "count": count, "kinds": by_kind,
            "all": summarise_records(records), "seconds": round(time.perf_counter() - start, 1),
            "records": records}


__all__ = ["KINDS", "METHODS", "edit_scene", "edit_world_split", "frame_psnr", "measure_clip",
           "psnr_by_distance", "summarise_records"]
