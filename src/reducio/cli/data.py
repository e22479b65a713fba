"""`reducio data`: generate the synthetic shapes world; inspect video files."""

from __future__ import annotations

import argparse

from reducio.cli.arguments import integer, non_negative_int, positive_int, positive_number


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="generate synthetic data, inspect videos")
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    synth = actions.add_parser(
        "synth", help="write shapes-world clips (lossless video files + captions.jsonl)",
        description="Write clips of the synthetic shapes world (docs/synthetic-world.md).",
    )
    synth.add_argument("-o", "--output", required=True, help="output folder")
    synth.add_argument("--count", type=positive_int, required=True, help="number of clips")
    synth.add_argument("--split", default="train", choices=("train", "validation", "test", "heldout"))
    synth.add_argument("--size", type=integer(32), default=64, help="frame side S, a multiple of 32 (default 64)")
    synth.add_argument("--frames", type=positive_int, default=16, help="frames per clip (default 16)")
    synth.add_argument("--seed-offset", type=non_negative_int, default=0,
                       help="first clip index within the split (clip i has seed split_offset + i)")
    synth.add_argument("--fps", type=positive_number, default=16, help="frame rate stored in the files")
    synth.add_argument("--format", default="mp4", choices=("mp4", "mkv", "webm", "mov", "gif", "png"),
                       help="container (png = one folder of frames per clip)")
    synth.add_argument("--lossy", action="store_true", help="yuv420p H.264/VP9 instead of lossless RGB")
    synth.add_argument("--no-verify", action="store_true", help="skip decoding each file to check its pixels")
    synth.set_defaults(func=run_synth)

    probe = actions.add_parser("probe", help="print frame rate, frame count, size and duration of videos")
    probe.add_argument("inputs", nargs="+", help="files, folders or globs")
    probe.set_defaults(func=run_probe)


def run_synth(args: argparse.Namespace) -> int:
    from reducio.cli.outputs import check_output_folder
    from reducio.data.synthetic.export import write_shapes_dataset

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


def run_probe(args: argparse.Namespace) -> int:
    from reducio.data.video_io import expand_inputs, probe_video

    for path in expand_inputs(args.inputs):
        info = probe_video(path)
        print(f"{path}: {info.width}x{info.height}, {info.num_frames} frames, {info.fps:.3f} fps, "
              f"{info.duration:.2f} s")
    return 0


def run(args: argparse.Namespace) -> int:
    return args.func(args)
