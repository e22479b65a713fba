"""`reducio eval edit`: editing by the content frame, measured on the shapes world."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from reducio.cli.edit_flow import eval_setup
from reducio.eval.edit_run import run_edit_eval
from reducio.pipelines.edit import ReducioEditPipeline

logger = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    pipe, head = eval_setup(args, ReducioEditPipeline, [
        "reducio", "eval", "edit", "--kinds", *args.kinds, "--long-count", str(args.long_count),
        "--long-frames", str(args.long_frames), "--long-splits", *args.long_splits])
    report = run_edit_eval(pipe, args.output, splits=args.splits, count=args.count, first=args.first,
                           size=args.size, kinds=args.kinds, long_count=args.long_count,
                           long_frames=args.long_frames, long_splits=args.long_splits, head=head,
                           progress=logger.info)
    for split, result in report["splits"].items():
        edit, paste, recon = (result["all"][m] for m in ("edit", "paste", "recon"))
        print(f"{split}: edit PSNR {edit['psnr']:.2f} dB, success {edit['success']:.3f} (paste {paste['psnr']:.2f} "
              f"dB / {paste['success']:.3f}, unedited {recon['psnr']:.2f} dB / {recon['success']:.3f}) over "
              f"{result['count']} clips x {len(args.kinds)} edits")
    print(f"-> {Path(args.output) / 'edit.json'}, edit_records.jsonl, edit.md")
    return 0
