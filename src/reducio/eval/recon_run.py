"""A resumable reconstruction evaluation: per-clip PSNR / SSIM / LPIPS, rFVD over the set.

Writes into one folder:
- `per_clip.jsonl`: one record per clip, appended as each clip finishes; a rerun skips the clips
  already there (a killed run resumes where it stopped);
- `i3d_features.jsonl`: with an I3D network, each clip's embedding of the original and of the
  reconstruction, so rFVD can be computed at the end over all clips, resumed runs included;
- `settings.json`: what the run measured; a rerun with other settings into the same folder is
  refused (its numbers would mix);
- `summary.json` and `report.md`: mean / std / min / max per metric and rFVD.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from reducio.data.synthetic.world import make_clip
from reducio.errors import ConfigError
from reducio.eval.fvd import FeatureStats, fvd_from_stats, i3d_embed
from reducio.eval.reconstruction import psnr, ssim
from reducio.eval.report import (JsonlWriter, markdown_table, read_jsonl, summarise, summary_table,
    write_json, write_markdown)

logger = logging.getLogger(__name__)

RECON_METRICS = ("psnr", "ssim", "lpips")
# A reconstruction function gets the clip (3, T, H, W) in [-1, 1] and a per-clip seed.
Reconstruct = Callable[[torch.Tensor, int], torch.Tensor]


@dataclass(frozen=True)
class Sample:
    """One clip to evaluate: a stable id (resume key) and how to load it as (3, T, H, W) in [-1, 1]."""

    id: str
    load: Callable[[], torch.Tensor]
    prompt: str | None = None


def file_samples(paths: Sequence[Path], read: Callable[[Path], torch.Tensor], root: Path | None = None) -> list[Sample]:
    """Samples for video files; ids are paths relative to `root` when given."""
    samples = []
    for path in paths:
        key = str(path.relative_to(root)) if root is not None and path.is_relative_to(root) else str(path)
        samples.append(Sample(id=key, load=lambda p=path: read(p)))
    return samples


def synthetic_samples(split: str, count: int, size: int = 64, frames: int = 16, start: int = 0) -> list[Sample]:
    """Samples of the shapes world (reducio.data.synthetic.world), no files needed."""
    def load(index: int) -> torch.Tensor:
        clip = make_clip(index, split, size=size, frames=frames)
        return torch.from_numpy(clip.video).permute(3, 0, 1, 2).float().div(127.5).sub(1.0)  # 3 T H W

    return [
        Sample(id=f"{split}/{index:06d}", load=lambda i=index: load(i), prompt=None)
        for index in range(start, start + count)
    ]


def clip_seed(base: int, sample_id: str) -> int:
    """A per-clip seed that does not depend on the clip's position in the list (stable on resume)."""
    return (base * 1_000_003 + zlib.crc32(sample_id.encode())) % (2**63)


def _check_settings(out_dir: Path, settings: dict[str, Any]) -> None:
    path = out_dir / "settings.json"
    if path.exists():
        previous = json.loads(path.read_text())
        changed = sorted(k for k in set(previous) | set(settings) if previous.get(k) != settings.get(k))
        if changed:
            raise ConfigError(
                f"{out_dir} holds results measured with other settings ({', '.join(changed)} differ: "
                f"{ {k: previous.get(k) for k in changed} } before, { {k: settings.get(k) for k in changed} } now); "
                "use another output folder or delete it"
            )
    write_json(path, settings)


def run_reconstruction(
    samples: Sequence[Sample],
    reconstruct: Reconstruct,
    out_dir: str | Path,
    settings: dict[str, Any],
    lpips: torch.nn.Module | None = None,
    i3d: torch.nn.Module | None = None,
    i3d_features: str = "logits",
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate `reconstruct` on `samples`, resumably; returns the summary written to summary.json."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = {**settings, "lpips": lpips is not None, "i3d": i3d is not None, "i3d_features": i3d_features}
    _check_settings(out_dir, settings)
    per_clip_path, features_path = out_dir / "per_clip.jsonl", out_dir / "i3d_features.jsonl"
    done = {r["id"] for r in read_jsonl(per_clip_path)}
    have_features = {r["id"] for r in read_jsonl(features_path)} if i3d is not None else set()
    todo = [s for s in samples if s.id not in done or (i3d is not None and s.id not in have_features)]
    if len(todo) < len(samples):
        logger.info("resuming: %d of %d clips already evaluated in %s", len(samples) - len(todo), len(samples), out_dir)
    records, features = JsonlWriter(per_clip_path), JsonlWriter(features_path) if i3d is not None else None
    for sample in tqdm(todo, desc="eval recon", unit="clip", disable=not progress):
        video = sample.load()  # 3 T H W
        recon = reconstruct(video, clip_seed(seed, sample.id)).float().cpu().clamp(-1, 1)
        if sample.id not in done:
            record: dict[str, Any] = {"id": sample.id}
            record["psnr"] = float(psnr(recon, video)[0])
            record["ssim"] = float(ssim(recon, video)[0])
            if lpips is not None:
                record["lpips"] = float(lpips.video(recon, video)[0])
            record["frames"], record["height"], record["width"] = video.shape[1:]
            records.write(record)
        if features is not None and sample.id not in have_features:
            both = i3d_embed(i3d, torch.stack([video, recon]), kind=i3d_features)  # 2 D
            features.write({"id": sample.id, "real": both[0].tolist(), "recon": both[1].tolist()})
    return summarise_reconstruction(out_dir, settings, [s.id for s in samples])


def summarise_reconstruction(out_dir: Path, settings: dict[str, Any], ids: Sequence[str]) -> dict[str, Any]:
    """Aggregate the folder's records of `ids` into summary.json and report.md."""
    wanted = set(ids)
    records = [r for r in read_jsonl(out_dir / "per_clip.jsonl") if r["id"] in wanted]
    summary: dict[str, Any] = {
        "command": "eval recon",
        "settings": settings,
        "clips": len(records),
        "metrics": summarise(records, RECON_METRICS),
    }
    if settings.get("i3d"):
        real, fake = FeatureStats(), FeatureStats()
        for r in read_jsonl(out_dir / "i3d_features.jsonl"):
            if r["id"] in wanted:
                real.update(torch.tensor([r["real"]]))
                fake.update(torch.tensor([r["recon"]]))
        summary["rfvd"] = fvd_from_stats(real, fake) if real.count >= 2 else None
        summary["rfvd_clips"] = real.count
    write_json(out_dir / "summary.json", summary)
    sections = [
        ("Settings", markdown_table([{"setting": k, "value": v} for k, v in settings.items()])),
        (f"Per-clip metrics ({len(records)} clips)", summary_table(summary["metrics"])),
    ]
    if "rfvd" in summary:
        sections.append(
            ("rFVD", f"rFVD ({settings.get('i3d_features')} features, {summary['rfvd_clips']} clips): "
                     + ("n/a (needs 2 clips)" if summary["rfvd"] is None else f"{summary['rfvd']:.2f}") + "\n")
        )
    write_markdown(out_dir / "report.md", "Reconstruction evaluation", sections)
    return summary
