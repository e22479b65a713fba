"""`reducio transfer`: the motion of --motion decoded around the picture of --content."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from reducio.cli.edit_flow import decode_to_clip, fit_to_clip, load_pipeline, read_frame, read_one_clip
from reducio.cli.outputs import check_video_output
from reducio.cli.vae_io import check_input_args
from reducio.data.video_io import IMAGE_EXTENSIONS, side_by_side, write_video
from reducio.pipelines.transfer import ReducioMotionTransferPipeline


def read_content(path: str, args: argparse.Namespace, content_index: int) -> torch.Tensor:
    """(3, H, W) in [-1, 1]: an image at its own size, or a video's content frame at the VAE's size."""
    if Path(path).suffix.lower() in IMAGE_EXTENSIONS:
        return read_frame(path, "--content")
    return read_one_clip(path, args, content_index)[:, content_index]


def run(args: argparse.Namespace) -> int:
    check_input_args(args)
    output = check_video_output(args.output)
    pipe = load_pipeline(args, ReducioMotionTransferPipeline, (args.motion,))
    index = pipe.content_index
    video = read_one_clip(args.motion, args, index)
    content = fit_to_clip(read_content(args.content, args, index), video, "--content")
    result = decode_to_clip(pipe, video, content)
    if args.side_by_side:
        result = side_by_side(video, content[:, None].expand_as(video), result)
    write_video(output, result, fps=args.fps, lossless=args.lossless)
    _, frames, height, width = video.shape
    print(f"{args.motion} (motion) + {args.content} (content, frame {index}) -> {output}: "
          f"{frames} frames {height}x{width}")
    return 0
