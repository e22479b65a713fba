"""`reducio transfer --motion A.mp4 --content B.png -o OUT`: A's motion decoded around B's picture.

The motion latent of A (encoded with A's own content frame) is decoded around B
(`ReducioMotionTransferPipeline`, docs/edit.md); B becomes frame 7 (the middle of the first
16-frame window). B is an image, or a video whose frame 7 is taken at the same size options.
Also `reducio eval transfer`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reducio.cli.edit import (CONTENT_INDEX, add_eval_args, add_model_args, decode_to_clip, eval_setup,
                              fit_to_clip, load_pipeline, read_frame, read_one_clip)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "transfer", help="decode one video's motion around another picture",
        description="Motion transfer: decode the motion of --motion around --content (an image, or a video's "
                    f"frame {CONTENT_INDEX}), which becomes frame {CONTENT_INDEX} of the output (docs/edit.md).")
    parser.add_argument("--motion", required=True, help="the video whose motion is kept")
    parser.add_argument("--content", required=True,
                        help=f"the picture to animate: an image, or a video (its frame {CONTENT_INDEX})")
    parser.add_argument("-o", "--output", required=True, help="output video")
    parser.add_argument("--side-by-side", action="store_true", help="write motion | content | result")
    parser.add_argument("--lossless", action="store_true", help="write lossless RGB video")
    from reducio.cli._vae_io import add_input_args

    add_input_args(parser, whole_clip=True)
    add_model_args(parser)
    parser.set_defaults(func=run)


def read_content(path: str, args: argparse.Namespace):
    """(3, H, W) in [-1, 1]: an image at its own size, or a video's frame 7 at the VAE's size."""
    from reducio.data.video_io import IMAGE_EXTENSIONS

    if Path(path).suffix.lower() in IMAGE_EXTENSIONS:
        return read_frame(path, "--content")
    return read_one_clip(path, args)[:, CONTENT_INDEX]


def run(args: argparse.Namespace) -> int:
    from reducio.cli._vae_io import check_input_args
    from reducio.cli.outputs import check_video_output
    from reducio.data.video_io import side_by_side, write_video
    from reducio.pipelines.transfer import ReducioMotionTransferPipeline

    check_input_args(args)
    output = check_video_output(args.output)
    video = read_one_clip(args.motion, args)
    content = fit_to_clip(read_content(args.content, args), video, "--content")
    pipe = load_pipeline(args, ReducioMotionTransferPipeline, (args.motion,))
    result = decode_to_clip(pipe, video, content)
    if args.side_by_side:
        result = side_by_side(video, content[:, None].expand_as(video), result)
    write_video(output, result, fps=args.fps, lossless=args.lossless)
    _, frames, height, width = video.shape
    print(f"{args.motion} (motion) + {args.content} (content, frame {CONTENT_INDEX}) -> {output}: "
          f"{frames} frames {height}x{width}")
    return 0


# ----------------------------------------------------------------------------- reducio eval transfer
def register_eval(commands) -> None:
    """`reducio eval transfer` (a subcommand of `reducio eval`)."""
    parser = commands.add_parser(
        "transfer", help="motion transfer, measured on the shapes world",
        description="Decode one-object clip A's motion around another one-object clip B's frame 7 and judge "
                    "what transfers (direction, speed) and what stays B's (colour, shape, background). Writes "
                    "OUT/transfer.json and OUT/transfer.md (docs/edit.md).")
    add_eval_args(parser, run_eval)


def run_eval(args: argparse.Namespace) -> int:
    import logging

    from reducio.eval.edit_run import run_transfer_eval
    from reducio.pipelines.transfer import ReducioMotionTransferPipeline

    pipe, head = eval_setup(args, ReducioMotionTransferPipeline, ["reducio", "eval", "transfer"])
    report = run_transfer_eval(pipe, args.output, splits=args.splits, count=args.count, first=args.first,
                               size=args.size, head=head, progress=logging.getLogger(__name__).info)
    for split, result in report["splits"].items():
        s = result["summary"]
        print(f"{split}: identity kept {s['identity_frames_hold']:.3f}, A's direction {s['direction_of_a']:.3f}, "
              f"no motion {s['no_motion_seen']:.3f} over {s['pairs']} pairs")
    print(f"-> {Path(args.output) / 'transfer.json'}, transfer_records.jsonl, transfer.md")
    return 0
