"""`reducio eval edit` / `reducio eval transfer` as library calls: measure, write JSON + Markdown.

    pipe = ReducioEditPipeline.from_pretrained("my-vae")
    report = run_edit_eval(pipe, "runs/edit", splits=("test",), count=50)
    pipe = ReducioMotionTransferPipeline.from_pretrained("my-vae")
    report = run_transfer_eval(pipe, "runs/transfer", splits=("test",), count=50)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from reducio.eval.edit_long import long_clip_split
from reducio.eval.edit_report import edit_markdown, transfer_markdown
from reducio.eval.edit_world import KINDS, edit_world_split
from reducio.eval.report import JsonlWriter, write_json
from reducio.eval.transfer_world import transfer_world_split

Progress = Callable[[str], None] | None


def _head(head: dict[str, Any] | None, size: int) -> dict[str, Any]:
    return {"vae": "?", "command": "(library call)", **(head or {}), "size": size,
            "threads": torch.get_num_threads()}


def write_report(report: dict[str, Any], output: Path, name: str, markdown: str) -> None:
    """OUTPUT/NAME.json (summaries), OUTPUT/NAME_records.jsonl (one line per clip or pair: its
    scores and verdicts; the per-frame PSNR of 16-frame clips is kept only as the by-distance
    summary of the JSON, long clips keep theirs) and OUTPUT/NAME.md."""
    report = dict(report)
    lines = []
    for section in ("splits", "long"):
        parts = {}
        for split, result in report.get(section, {}).items():
            result = dict(result)
            lines += [{"section": section, "split": split, **_compact(record)} for record in result.pop("records")]
            parts[split] = result
        if section in report:
            report[section] = parts
    write_json(output / f"{name}.json", report)
    (output / f"{name}_records.jsonl").unlink(missing_ok=True)
    writer = JsonlWriter(output / f"{name}_records.jsonl")
    for line in lines:
        writer.write(line)
    (output / f"{name}.md").write_text(markdown + "\n")


def _compact(record: dict[str, Any]) -> dict[str, Any]:
    """A 16-frame clip's record without the per-frame PSNR of each method."""
    if "methods" not in record:
        return record
    methods = {m: {k: v for k, v in scores.items() if k != "psnr_frames"} for m, scores in record["methods"].items()}
    return {**record, "methods": methods}


def run_edit_eval(pipe, output: str | Path, *, splits: Sequence[str] = ("test", "heldout"), count: int = 50,
                  first: int = 0, size: int = 64, kinds: Sequence[str] = KINDS, long_count: int = 20,
                  long_frames: int = 48, long_splits: Sequence[str] = ("test",), head: dict[str, Any] | None = None,
                  progress: Progress = None) -> dict[str, Any]:
    """Edits on `count` clips per split, long clips on `long_count` per long split; writes
    OUTPUT/edit.json, edit_records.jsonl and edit.md (`write_report`); `head` ({"vae", "command"})
    goes on top of the report. Returns the report with its records."""
    report, start, kinds = _head(head, size), time.perf_counter(), tuple(kinds)
    report["splits"] = {split: edit_world_split(pipe, split, count, size=size, kinds=kinds, first=first,
                                                progress=progress) for split in splits}
    report["long"] = {split: long_clip_split(pipe, split, long_count, frames=long_frames, size=size, kinds=kinds,
                                             first=first, progress=progress)
                      for split in (long_splits if long_count else ())}
    report["seconds"] = time.perf_counter() - start
    write_report(report, Path(output), "edit", edit_markdown(report))
    return report


def run_transfer_eval(pipe, output: str | Path, *, splits: Sequence[str] = ("test", "heldout"), count: int = 50,
                      first: int = 0, size: int = 64, head: dict[str, Any] | None = None,
                      progress: Progress = None) -> dict[str, Any]:
    """`count` transfer pairs per split; writes OUTPUT/transfer.json, transfer_records.jsonl and
    transfer.md."""
    report, start = _head(head, size), time.perf_counter()
    report["splits"] = {split: transfer_world_split(pipe, split, count, size=size, first=first, progress=progress)
                        for split in splits}
    report["seconds"] = time.perf_counter() - start
    write_report(report, Path(output), "transfer", transfer_markdown(report))
    return report


__all__ = ["run_edit_eval", "run_transfer_eval", "write_report"]
