"""`reducio edit VIDEO --frame EDITED.png -o OUT`: edit a clip by editing its middle frame.

    reducio edit clip.mp4 --export-frame frame.png        # frame 7, at the size the VAE sees
    (edit frame.png in any image editor)
    reducio edit clip.mp4 --frame frame.png -o edited.mp4 [--side-by-side]

The clip's motion latent is encoded with its own content frame and decoded around the edited one
(`ReducioEditPipeline`, docs/edit.md). Also the shared parts of `reducio transfer` and of
`reducio eval edit / transfer`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from reducio.cli.arguments import integer, non_negative_int, positive_int
from reducio.cli._vae_io import DTYPES, WINDOW, add_input_args, check_input_args, read_clip
from reducio.errors import ConfigError, VideoReadError

CONTENT_INDEX = (WINDOW - 1) // 2  # frame 7: the content frame of the first 16-frame window


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "edit", help="edit a video by editing its middle frame (frame 7)",
        description="Edit a clip through one frame: --export-frame writes its content frame (frame 7, the "
                    "middle of the first 16-frame window) at the size the VAE works at; edit that image, then "
                    "--frame decodes the clip's motion around it (docs/edit.md).")
    parser.add_argument("input", help="video file or folder of frames")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--frame", help="the edited frame (png / jpg / bmp / webp)")
    action.add_argument("--export-frame", metavar="FRAME", help="write the frame to edit to this image and stop")
    parser.add_argument("-o", "--output", help="output video (with --frame)")
    parser.add_argument("--side-by-side", action="store_true", help="write input | edited video")
    parser.add_argument("--lossless", action="store_true", help="write lossless RGB video")
    add_input_args(parser, whole_clip=True)
    add_model_args(parser)
    parser.set_defaults(func=run)


def add_model_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--vae", default="tiny", help="VAE: built-in name (tiny), folder, .safetensors, official "
                                                     ".ckpt, ft4/ft2 or a hub id (default: tiny)")
    group.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    group.add_argument("--dtype", default="fp32", choices=tuple(DTYPES), help="weights and compute dtype")
    group.add_argument("--tiling", action="store_true", help="spatial tiling for large frames (e.g. 1024 px)")
    parser.set_defaults(batch_size=1)


def read_frame(path: str, option: str) -> torch.Tensor:
    """An image file as (3, H, W) in [-1, 1] at its own size; a named error for anything else."""
    from reducio.data.video_io import IMAGE_EXTENSIONS, read_video

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


def read_one_clip(path: str, args: argparse.Namespace) -> torch.Tensor:
    """The clip (3, T, H, W) at the VAE's size; it must reach its content frame."""
    from reducio.data.video_io import expand_inputs

    inputs = expand_inputs(path)
    if len(inputs) != 1:
        raise ConfigError(f"{path}: names {len(inputs)} clips; pass one video file or frame folder")
    video = read_clip(inputs[0], args)
    if video.shape[1] <= CONTENT_INDEX:
        raise VideoReadError(f"{path}: {video.shape[1]} frame(s); editing needs at least {CONTENT_INDEX + 1} "
                             f"(the content frame is frame {CONTENT_INDEX})")
    return video


def fit_to_clip(frame: torch.Tensor, video: torch.Tensor, option: str) -> torch.Tensor:
    """The frame at the clip's size (same aspect: resized with a warning; else an error naming the size)."""
    from reducio.pipelines.edit import fit_frame

    return fit_frame(frame[None], tuple(video.shape[-2:]), option)[0]


def load_pipeline(args: argparse.Namespace, cls, inputs: tuple[str, ...] = ()):
    """`cls` (edit or transfer pipeline) around the VAE of --vae, with its notes printed (untrained
    weights; a built-in VAE given clips from outside the shapes world)."""
    from reducio.cli._vae_io import builtin_vae_note, load_vae

    vae, warning = load_vae(args)
    for text in (warning, builtin_vae_note(args.vae, [Path(p) for p in inputs]) if inputs else None):
        if text:
            print(text)
    pipe = cls(vae=vae)
    pipe.set_progress_bar_config(desc="windows", leave=False)
    return pipe


def decode_to_clip(pipe, video: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """pipe(video, frame) for one clip -> (3, T, H, W) in [-1, 1]."""
    out = pipe(video[None], frame[None], output_type="pt")
    return out.frames[0].permute(1, 0, 2, 3) * 2.0 - 1.0


def export_frame(args: argparse.Namespace) -> int:
    from PIL import Image

    from reducio.cli.outputs import check_output_file
    from reducio.data.transforms import unit_to_uint8
    from reducio.data.video_io import IMAGE_EXTENSIONS

    if args.output is not None:
        raise ConfigError("-o is the output video of --frame; --export-frame writes only the frame: drop -o")
    target = check_output_file(args.export_frame, IMAGE_EXTENSIONS, "exported frame", "--export-frame")
    video = read_one_clip(args.input, args)
    frame = unit_to_uint8(video[:, CONTENT_INDEX]).permute(1, 2, 0).numpy()                   # H W 3
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(target)
    print(f"wrote frame {CONTENT_INDEX} of {args.input} ({frame.shape[0]}x{frame.shape[1]}, the size the VAE "
          f"sees) to {target}; edit it, then `reducio edit {args.input} --frame {target} -o OUT.mp4` "
          "with the same size options")
    return 0


def run(args: argparse.Namespace) -> int:
    from reducio.cli.outputs import check_video_output
    from reducio.data.video_io import side_by_side, write_video
    from reducio.pipelines.edit import ReducioEditPipeline

    check_input_args(args)
    if args.export_frame is not None:
        return export_frame(args)
    if args.output is None:
        raise ConfigError("--frame needs -o OUT (the edited video)")
    output = check_video_output(args.output)
    frame = read_frame(args.frame, "--frame")
    video = read_one_clip(args.input, args)
    frame = fit_to_clip(frame, video, "--frame")
    pipe = load_pipeline(args, ReducioEditPipeline, (args.input,))
    edited = decode_to_clip(pipe, video, frame)
    write_video(output, side_by_side(video, edited) if args.side_by_side else edited, fps=args.fps,
                lossless=args.lossless)
    _, frames, height, width = edited.shape
    windows = pipe.window_plan(frames).num_windows
    chained = ", each next one around the frame the previous one made" if windows > 1 else ""
    print(f"{args.input} -> {output}: {frames} frames {height}x{width}, motion decoded around the edited frame "
          f"{CONTENT_INDEX} ({windows} window(s){chained})")
    return 0


# ----------------------------------------------------------------------------- reducio eval edit
def register_eval(commands) -> None:
    """`reducio eval edit` (a subcommand of `reducio eval`)."""
    parser = commands.add_parser(
        "edit", help="editing by the middle frame, measured on the shapes world",
        description="Change one attribute of each world clip (colour, shape, background), re-render it, and "
                    "compare the clip's motion decoded around the edited frame 7 with the world's edited clip, "
                    "against pasting the frame and the unedited reconstruction; then how an edit fades with "
                    "distance on long clips. Writes OUT/edit.json and OUT/edit.md (docs/edit.md).")
    parser.add_argument("--kinds", nargs="+", default=["colour", "shape", "background"],
                        choices=("colour", "shape", "background"), help="kinds of edit (default: all three)")
    parser.add_argument("--long-count", type=non_negative_int, default=20,
                        help="long clips per --long-splits split (default 20; 0 = none)")
    parser.add_argument("--long-frames", type=integer(24), default=48, help="frames of a long clip (default 48)")
    parser.add_argument("--long-splits", nargs="+", default=["test"], help="splits of the long clips (default test)")
    add_eval_args(parser, run_eval)


def add_eval_args(parser: argparse.ArgumentParser, func) -> None:
    """Options shared by `eval edit` and `eval transfer`."""
    parser.add_argument("--splits", nargs="+", default=["test", "heldout"], help="world splits (default test heldout)")
    parser.add_argument("--count", type=positive_int, default=50, help="clips (pairs) per split (default 50)")
    parser.add_argument("--first", type=non_negative_int, default=0, help="first clip index (default 0)")
    parser.add_argument("--size", type=integer(32), default=64, help="clip side, a multiple of 32 (default 64)")
    parser.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")
    parser.add_argument("-o", "--output", required=True, help="output folder")
    add_model_args(parser)
    parser.set_defaults(func=func)


def eval_setup(args: argparse.Namespace, cls, words: list[str]):
    """Checks before any work, then (pipeline, report head {"vae", "command"})."""
    from reducio.cli.outputs import check_output_folder
    from reducio.data.synthetic.world import parse_split_spec

    check_output_folder(args.output)
    if args.size % 32:
        raise ConfigError(f"--size must be a multiple of 32, got {args.size}; use {max(32, args.size // 32 * 32)}")
    for split in [*args.splits, *getattr(args, "long_splits", [])]:
        parse_split_spec(split)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    pipe = load_pipeline(args, cls)
    pipe.set_progress_bar_config(disable=True)
    words = [*words, "--vae", str(args.vae), "--splits", *args.splits, "--count", str(args.count),
             "--first", str(args.first), "--size", str(args.size), "--threads", str(torch.get_num_threads()),
             "-o", str(args.output)]
    return pipe, {"vae": str(args.vae), "command": " ".join(words)}


def run_eval(args: argparse.Namespace) -> int:
    import logging

    from reducio.eval.edit_run import run_edit_eval
    from reducio.pipelines.edit import ReducioEditPipeline

    pipe, head = eval_setup(args, ReducioEditPipeline, [
        "reducio", "eval", "edit", "--kinds", *args.kinds, "--long-count", str(args.long_count),
        "--long-frames", str(args.long_frames), "--long-splits", *args.long_splits])
    report = run_edit_eval(pipe, args.output, splits=args.splits, count=args.count, first=args.first,
                           size=args.size, kinds=args.kinds, long_count=args.long_count,
                           long_frames=args.long_frames, long_splits=args.long_splits, head=head,
                           progress=logging.getLogger(__name__).info)
    for split, result in report["splits"].items():
        edit, paste, recon = (result["all"][m] for m in ("edit", "paste", "recon"))
        print(f"{split}: edit PSNR {edit['psnr']:.2f} dB, success {edit['success']:.3f} (paste {paste['psnr']:.2f} "
              f"dB / {paste['success']:.3f}, unedited {recon['psnr']:.2f} dB / {recon['success']:.3f}) over "
              f"{result['count']} clips x {len(args.kinds)} edits")
    print(f"-> {Path(args.output) / 'edit.json'}, edit_records.jsonl, edit.md")
    return 0
