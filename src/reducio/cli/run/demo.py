"""`reducio demo`: check the options, then serve the Gradio app until Ctrl+C.

Importing this module imports gradio (through `reducio.demo.app`); without it, `reducio.cli.main`
says how to install the demo extra."""

from __future__ import annotations

import argparse
from pathlib import Path

from reducio.cli.arguments import parse_size_arg
from reducio.cli.device import resolve_device
from reducio.demo.settings import DemoSettings
from reducio.errors import ConfigError
from reducio.loading.sources import builtin_folder
from reducio.models.vae.config import VAEConfig
import reducio.demo.app as demo_app


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    print(f"reducio demo: serving http://127.0.0.1:{args.port} (Ctrl+C stops it)")
    demo_app.launch(settings, port=args.port)
    return 0


def settings_from_args(args: argparse.Namespace) -> DemoSettings:
    """DemoSettings from the options, checked before anything loads."""
    size = parse_size_arg(args.size)
    sides = (size,) if isinstance(size, int) else size or ()
    ratio = VAEConfig().space_downsample   # the released and built-in VAEs' (32); the pipeline checks its own
    if any(side < ratio or side % ratio for side in sides):
        raise ConfigError(f"--size must be multiples of {ratio} (the VAE's spatial compression), got {args.size}")
    resolve_device(args.device)  # an unknown or missing device fails now, not at the first click
    pipeline = str(args.pipeline)
    if builtin_folder("pipeline", pipeline) is None and not (_folder(pipeline) / "model_index.json").is_file():
        raise ConfigError(f"--pipeline {pipeline}: not a built-in pipeline nor a folder with a "
                          "model_index.json (as save_pretrained writes)")
    return DemoSettings(pipeline=pipeline, vae=str(args.vae), device=args.device, dtype=args.dtype,
                        size=size, max_upload_mb=args.max_upload_mb, max_seconds=args.max_seconds)


def _folder(text: str) -> Path:
    return Path(text).expanduser()
