"""`reducio demo`: serve the Gradio demo on this machine (docs/demo.md; needs the demo extra)."""

from __future__ import annotations

import argparse

from reducio.cli.arguments import integer, positive_number
from reducio.errors import ConfigError

INSTALL = 'pip install "reducio[demo]" (from a checkout: pip install -e ".[demo]")'


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="a web demo of generation, reconstruction and editing (Gradio, this machine only)",
        description="Start a Gradio app on http://127.0.0.1:PORT with four tabs: text to video, image "
                    "to video, reconstruct (original | reconstruction with PSNR / SSIM) and edit by "
                    "one frame (docs/demo.md). Models load on first use. Needs the demo extra: "
                    f"{INSTALL}.")
    parser.add_argument("--port", type=integer(1, 65535), default=7860, help="port on 127.0.0.1 (default 7860)")
    parser.add_argument("--pipeline", default="tiny",
                        help="text/image-to-video pipeline folder (save_pretrained); default: the built-in one")
    parser.add_argument("--vae", default="tiny",
                        help="VAE of the reconstruct and edit tabs: built-in name (tiny), folder, "
                             ".safetensors, official .ckpt or ft4/ft2, as `reducio reconstruct --vae` "
                             "(default: tiny)")
    parser.add_argument("--size", default=None,
                        help="image-to-video frame size, S or HxW, multiples of 32 (default: the "
                             "pipeline's stage-1 size, 64 for the built-in one)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    parser.add_argument("--dtype", default="fp32", choices=("fp32", "bf16", "fp16"), help="weights and compute dtype")
    parser.add_argument("--max-upload-mb", type=positive_number, default=50.0,
                        help="largest upload in MB (default 50)")
    parser.add_argument("--max-seconds", type=positive_number, default=10.0,
                        help="longest clip the reconstruct and edit tabs take, in seconds (default 10)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    try:
        from reducio.demo.app import launch
    except ImportError as error:
        if (error.name or "").split(".")[0] != "gradio":
            raise
        raise ConfigError(f"`reducio demo` needs Gradio, which is not installed: {INSTALL}") from None
    print(f"reducio demo: serving http://127.0.0.1:{args.port} (Ctrl+C stops it)")
    launch(settings, port=args.port)
    return 0


def settings_from_args(args: argparse.Namespace):
    """DemoSettings from the options, checked before anything loads."""
    from reducio.cli._vae_io import parse_size_arg, resolve_device
    from reducio.demo.settings import DemoSettings
    from reducio.loading.sources import builtin_folder

    size = parse_size_arg(args.size)
    sides = (size,) if isinstance(size, int) else size or ()
    if any(side < 32 or side % 32 for side in sides):
        raise ConfigError(f"--size must be multiples of 32, got {args.size}")
    resolve_device(args.device)  # an unknown or missing device fails now, not at the first click
    pipeline = str(args.pipeline)
    if builtin_folder("pipeline", pipeline) is None and not (_folder(pipeline) / "model_index.json").is_file():
        raise ConfigError(f"--pipeline {pipeline}: not a built-in pipeline nor a folder with a "
                          "model_index.json (as save_pretrained writes)")
    return DemoSettings(pipeline=pipeline, vae=str(args.vae), device=args.device, dtype=args.dtype,
                        size=size, max_upload_mb=args.max_upload_mb, max_seconds=args.max_seconds)


def _folder(text: str):
    from pathlib import Path

    return Path(text).expanduser()
