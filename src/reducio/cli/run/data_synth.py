"""`reducio data synth`: write clips of the shapes world (video files + captions.jsonl)."""

from __future__ import annotations

import argparse

from reducio.cli.outputs import check_output_folder
from reducio.data.synthetic.export import write_shapes_dataset


def run(args: argparse.Namespace) -> int:
    check_output_folder(args.output, "output of `data synth`")
    extension = "" if args.format == "png" else f".{args.format}"
    report = write_shapes_dataset(
        args.output, args.count, split=args.split, size=args.size, frames=args.frames,
        start=args.seed_offset, fps=args.fps, extension=extension, lossless=not args.lossy,
        verify=not args.no_verify and args.format != "gif",
    )
    check = "" if report.max_abs_error is None else f"; decoded pixels within {report.max_abs_error} levels"
    print(f"wrote {report.count} {args.split} clips ({args.size}x{args.size}, {args.frames} frames) "
          f"and captions.jsonl to {report.directory}{check}")
    return 0

