"""`reducio edit`: write a clip's content frame (--export-frame), or decode the clip's motion around
an edited one (--frame)."""

from __future__ import annotations

import argparse

from PIL import Image

from reducio.cli.edit_flow import decode_to_clip, fit_to_clip, load_pipeline, read_frame, read_one_clip
from reducio.cli.outputs import check_output_file, check_video_output
from reducio.cli.vae_io import check_input_args
from reducio.data.transforms import unit_to_uint8
from reducio.data.video_io import IMAGE_EXTENSIONS, side_by_side, write_video
from reducio.errors import ConfigError
from reducio.pipelines.edit import ReducioEditPipeline


def run(args: argparse.Namespace) -> int:
    check_input_args(args)
    if args.export_frame is not None:
        return export_frame(args)
    if args.output is None:
        raise ConfigError("--frame needs -o OUT (the edited video)")
    output = check_video_output(args.output)
    frame = read_frame(args.frame, "--frame")
    pipe = load_pipeline(args, ReducioEditPipeline, (args.input,))
    video = read_one_clip(args.input, args, pipe.content_index)
    frame = fit_to_clip(frame, video, "--frame")
    edited = decode_to_clip(pipe, video, frame)
    write_video(output, side_by_side(video, edited) if args.side_by_side else edited, fps=args.fps,
                lossless=args.lossless)
    _, frames, height, width = edited.shape
    windows = pipe.window_plan(frames).num_windows
    chained = ", each next one around the frame the previous one made" if windows > 1 else ""
    print(f"{args.input} -> {output}: {frames} frames {height}x{width}, motion decoded around the edited frame "
          f"{pipe.content_index} ({windows} window(s){chained})")
    return 0


def export_frame(args: argparse.Namespace) -> int:
    """--export-frame FILE: the clip's content frame, at the size the VAE sees, as an image."""
    if args.output is not None:
        raise ConfigError("-o is the output video of --frame; --export-frame writes only the frame: drop -o")
    target = check_output_file(args.export_frame, IMAGE_EXTENSIONS, "exported frame", "--export-frame")
    pipe = load_pipeline(args, ReducioEditPipeline)  # its VAE says which frame is the content frame
    index = pipe.content_index
    video = read_one_clip(args.input, args, index)
    frame = unit_to_uint8(video[:, index]).permute(1, 2, 0).numpy()                            # H W 3
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(target)
    print(f"wrote frame {index} of {args.input} ({frame.shape[0]}x{frame.shape[1]}, the size the VAE "
          f"sees) to {target}; edit it, then `reducio edit {args.input} --frame {target} -o OUT.mp4` "
          "with the same size options")
    return 0
