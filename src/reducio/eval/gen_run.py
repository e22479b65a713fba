"""A resumable evaluation of generated videos against their prompts.

Per video: the shapes-world verdict (when the prompt is a canonical shapes caption), the CLIP
score (when a CLIP model is given) and the cheap temporal dimensions (flickering, motion
smoothness with the averaging interpolator). Records go to `per_video.jsonl` as each video
finishes (a rerun skips those done); `summary.json` and `report.md` hold the accuracies and means.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from reducio.data.synthetic.vocab import CaptionError, parse_caption
from reducio.data.video_io import VIDEO_EXTENSIONS, read_video, write_video
from reducio.errors import ConfigError, VideoInputError
from reducio.eval.report import (JsonlWriter, markdown_table, read_jsonl, summarise, summary_table,
    write_json, write_markdown)
from reducio.eval.shapes import ATTRIBUTES, ShapesAccuracy, ShapesEvaluator
from reducio.eval.temporal import motion_smoothness, temporal_flickering

logger = logging.getLogger(__name__)

GEN_METRICS = ("clip_score", "temporal_flickering", "motion_smoothness")


@dataclass(frozen=True)
class GeneratedVideo:
    id: str
    path: Path
    prompt: str


def read_prompt_file(prompts: str | Path, videos: str | Path, generate: bool = False) -> list[GeneratedVideo]:
    """Pair prompts with video files.

    - `.jsonl`: one object per line with "prompt" and "path" (relative to `videos` or absolute),
      optionally "id" (default: the path);
    - any other file: one prompt per line, paired in order with the video files of `videos`
      sorted by name; the counts must match. With `generate`, line i is `videos/{i:05d}.mp4`
      (written by `generate_missing` when absent).
    """
    prompts, videos = Path(prompts), Path(videos)
    if not prompts.is_file():
        raise ConfigError(f"prompt file {prompts} does not exist")
    if prompts.suffix == ".jsonl":
        items = []
        for number, line in enumerate(prompts.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as error:
                raise ConfigError(f"{prompts}: line {number} is not JSON ({error})") from error
            if not isinstance(entry, dict) or "prompt" not in entry or "path" not in entry:
                raise ConfigError(f'{prompts}: line {number} needs "prompt" and "path" keys, got {line[:120]!r}')
            path = Path(entry["path"])
            path = path if path.is_absolute() else videos / path
            items.append(GeneratedVideo(id=str(entry.get("id", entry["path"])), path=path, prompt=entry["prompt"]))
        return items
    lines = [line.strip() for line in prompts.read_text().splitlines() if line.strip()]
    if generate:
        return [GeneratedVideo(id=f"{i:05d}.mp4", path=videos / f"{i:05d}.mp4", prompt=text)
                for i, text in enumerate(lines)]
    if not videos.is_dir():
        raise ConfigError(f"--videos {videos} is not a folder")
    files = sorted(p for p in videos.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
    if len(files) != len(lines):
        raise ConfigError(
            f"{prompts} has {len(lines)} prompts but {videos} holds {len(files)} videos; a text prompt "
            "file pairs line i with the i-th video by name, so the counts must match (or use a JSONL "
            'file with "prompt" and "path")'
        )
    return [GeneratedVideo(id=p.name, path=p, prompt=text) for p, text in zip(files, lines)]


def generate_missing(
    items: Sequence[GeneratedVideo], pipeline, seed: int = 0, frames: int = 16, fps: float = 16,
    progress: bool = True,
) -> int:
    """Generate the videos of `items` whose file is absent, with a reducio text-to-video pipeline
    (`ReducioTextToVideoPipeline.from_pretrained`); video i is seeded with seed + i. Returns how
    many were made."""
    missing = [(i, item) for i, item in enumerate(items) if not item.path.exists()]
    device = getattr(pipeline, "device", "cpu")
    for i, item in tqdm(missing, desc="generate", unit="video", disable=not progress):
        generator = torch.Generator(device).manual_seed(seed + i)
        out = pipeline(item.prompt, generator=generator, num_frames=frames, output_type="pt")
        video = out.frames[0].permute(1, 0, 2, 3) * 2.0 - 1.0   # frames: B T 3 H W in [0, 1]
        write_video(item.path, video, fps=fps)                  # 3 T H W in [-1, 1]
    return len(missing)


def run_generation(
    items: Sequence[GeneratedVideo],
    out_dir: str | Path,
    evaluator: ShapesEvaluator | None = None,
    clip_scorer=None,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate generated videos; returns the summary written to summary.json."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    evaluator = evaluator or ShapesEvaluator()
    path = out_dir / "per_video.jsonl"
    done = {r["id"] for r in read_jsonl(path)}
    if clip_scorer is not None:
        missing = [r["id"] for r in read_jsonl(path) if r.get("clip_score") is None]
        if missing:
            raise ConfigError(
                f"{path} has {len(missing)} videos scored without CLIP (e.g. {missing[0]}); "
                "use another output folder to add CLIP scores"
            )
    writer = JsonlWriter(path)
    for item in tqdm([i for i in items if i.id not in done], desc="eval gen", unit="video", disable=not progress):
        if not item.path.is_file():
            raise VideoInputError(f"video {item.path} for prompt {item.prompt!r} does not exist")
        video = read_video(item.path)  # 3 T H W in [-1, 1]
        record: dict[str, Any] = {"id": item.id, "path": str(item.path), "prompt": item.prompt}
        try:
            spec = parse_caption(item.prompt)
        except CaptionError:
            spec = None
        record["shapes_prompt"] = spec is not None
        if spec is not None:
            verdict = evaluator.evaluate(video, spec)
            record.update(verdict.attributes())
            record["seen"] = verdict.description.caption() if verdict.description else None
        if clip_scorer is not None:
            record["clip_score"] = float(clip_scorer.score(video, item.prompt)[0])
        record["temporal_flickering"] = float(temporal_flickering(video)[0]) if video.shape[1] > 1 else None
        record["motion_smoothness"] = float(motion_smoothness(video)[0]) if video.shape[1] > 2 else None
        writer.write(record)
    return summarise_generation(out_dir, [i.id for i in items])


def summarise_generation(out_dir: Path, ids: Sequence[str]) -> dict[str, Any]:
    wanted = set(ids)
    records = [r for r in read_jsonl(out_dir / "per_video.jsonl") if r["id"] in wanted]
    accuracy = ShapesAccuracy()
    for record in records:
        if record.get("shapes_prompt"):
            accuracy.update(record)
    summary = {
        "command": "eval gen",
        "videos": len(records),
        "shapes": accuracy.summary(),
        "metrics": summarise(records, GEN_METRICS),
    }
    write_json(out_dir / "summary.json", summary)
    shapes_row = {"videos": accuracy.count, **{name: accuracy.summary()[name] for name in ATTRIBUTES}}
    sections = [
        ("Shapes-world accuracy (canonical prompts only)", markdown_table([shapes_row])),
        ("Metrics", summary_table(summary["metrics"]) or "none\n"),
    ]
    write_markdown(out_dir / "report.md", f"Generation evaluation ({len(records)} videos)", sections)
    return summary
