"""`reducio eval transfer`: motion transfer between shapes-world clips, measured."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from reducio.cli.edit_flow import eval_setup
from reducio.eval.edit_run import run_transfer_eval
from reducio.pipelines.transfer import ReducioMotionTransferPipeline

logger = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    pipe, head = eval_setup(args, ReducioMotionTransferPipeline, ["reducio", "eval", "transfer"])
    report = run_transfer_eval(pipe, args.output, splits=args.splits, count=args.count, first=args.first,
                               size=args.size, head=head, progress=logger.info)
    for split, result in report["splits"].items():
        s = result["summary"]
        print(f"{split}: identity kept {s['identity_frames_hold']:.3f}, A's direction {s['direction_of_a']:.3f}, "
              f"no motion {s['no_motion_seen']:.3f} over {s['pairs']} pairs")
    print(f"-> {Path(args.output) / 'transfer.json'}, transfer_records.jsonl, transfer.md")
    return 0
