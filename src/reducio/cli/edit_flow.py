"""The steps `reducio edit`, `reducio transfer` and their evaluations (`eval edit`, `eval transfer`)
share: read one clip and one picture at the VAE's size, load the pipeline around the VAE of --vae,
decode the clip's motion around the picture.

The picture becomes the content frame of the first window: `pipe.content_index`, asked of the
loaded VAE (the middle frame of its window, docs/architecture.md §1).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from reducio.cli.outputs import check_output_folder
from reducio.cli.vae_io import load_vae_for, read_clip
from reducio.data.synthetic.world import parse_split_spec
from reducio.data.video_io import IMAGE_EXTENSIONS, expand_inputs, read_video
from reducio.errors import ConfigError, VideoReadError
from reducio.pipelines.edit import ReducioEditPipeline, fit_frame


def read_frame(path: str, option: str) -> torch.Tensor:
    """An image file as (3, H, W) in [-1, 1] at its own size; a named error for anything else."""
    file = Path(path)
    if file.suffix.lower() not in IMAGE_EXTENSIONS:
        raise VideoReadError(f"{option} {file}: not an image (expected {' / '.join(IMAGE_EXTENSIONS)}); "
                             "export one with `reducio edit VIDEO --export-frame frame.png`")
    if file.is_dir():
        raise VideoReadError(f"{option} {file}: is a folder, not an image")
    try:
        return read_video(file, num_frames=1)[:, 0]                                            # 3 H W
    except VideoReadError as error:
        raise VideoReadError(f"{option}: {error}") from None


def read_one_clip(path: str, args: argparse.Namespace, content_index: int) -> torch.Tensor:
    """The clip (3, T, H, W) at the VAE's size; it must reach its content frame `content_index`."""
    inputs = expand_inputs(path)
    if len(inputs) != 1:
        raise ConfigError(f"{path}: names {len(inputs)} clips; pass one video file or frame folder")
    video = read_clip(inputs[0], args)
    if video.shape[1] <= content_index:
        raise VideoReadError(f"{path}: {video.shape[1]} frame(s); editing needs at least {content_index + 1} "
                             f"(the content frame is frame {content_index})")
    return video


def fit_to_clip(frame: torch.Tensor, video: torch.Tensor, option: str) -> torch.Tensor:
    """The frame (3, H, W) at the clip's size (same aspect: resized with a warning; else an error
    naming the size)."""
    return fit_frame(frame[None], tuple(video.shape[-2:]), option)[0]


def load_pipeline(args: argparse.Namespace, cls: type[ReducioEditPipeline],
                  inputs: tuple[str, ...] = ()) -> ReducioEditPipeline:
    """`cls` (edit or transfer pipeline) around the VAE of --vae, with its notes printed (untrained
    weights; a built-in VAE given clips from outside the shapes world)."""
    pipe = cls(vae=load_vae_for(args, [Path(p) for p in inputs]))
    pipe.set_progress_bar_config(desc="windows", leave=False)
    return pipe


def decode_to_clip(pipe: ReducioEditPipeline, video: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """pipe(video, frame) for one clip (3, T, H, W) and frame (3, H, W) -> (3, T, H, W) in [-1, 1]."""
    out = pipe(video[None], frame[None], output_type="pt")
    return out.frames[0].permute(1, 0, 2, 3) * 2.0 - 1.0


def eval_setup(args: argparse.Namespace, cls: type[ReducioEditPipeline], words: list[str]):
    """`eval edit` / `eval transfer`: checks before any work, then (pipeline, report head
    {"vae", "command"})."""
    check_output_folder(args.output)
    for split in [*args.splits, *getattr(args, "long_splits", [])]:
        parse_split_spec(split)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    pipe = load_pipeline(args, cls)
    ratio = pipe.vae.spatial_compression_ratio
    if args.size % ratio:
        raise ConfigError(f"--size must be a multiple of {ratio} (the VAE's spatial compression), got "
                          f"{args.size}; use {max(ratio, args.size // ratio * ratio)}")
    pipe.set_progress_bar_config(disable=True)
    words = [*words, "--vae", str(args.vae), "--splits", *args.splits, "--count", str(args.count),
             "--first", str(args.first), "--size", str(args.size), "--threads", str(torch.get_num_threads()),
             "-o", str(args.output)]
    return pipe, {"vae": str(args.vae), "command": " ".join(words)}
