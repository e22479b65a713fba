"""`reducio convert`: an official Reducio-VAE checkpoint -> our format (config.json + model.safetensors)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert an official Reducio-VAE .ckpt to config.json + model.safetensors",
        description="Read an official Reducio-VAE checkpoint without running code from it, load "
        "it strictly into ReducioVAE and save it in reducio's format.",
    )
    parser.add_argument("input", help="official checkpoint, e.g. reducio-ft4-fs32-attn23.ckpt")
    parser.add_argument("-o", "--output", required=True,
                        help="output folder (or a .safetensors path with --single-file)")
    parser.add_argument("--config", default=None,
                        help="preset name (ft4, ft2, ft4-1024, ...), official YAML or config.json; "
                        "default: detected from the weights' shapes")
    parser.add_argument("--single-file", action="store_true",
                        help="write one self-describing .safetensors instead of a folder")
    parser.add_argument("--dtype", default=None, choices=["float32", "float16", "bfloat16"],
                        help="store the weights in this dtype (default float32)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reducio.convert.vae_checkpoint import convert_official_vae  # torch only when run

    report = convert_official_vae(args.input, args.output, config=args.config,
                                  single_file=args.single_file, torch_dtype=args.dtype)
    for line in report.lines():
        print(line)
    return 0
