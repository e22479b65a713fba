"""`reducio convert`: an official Reducio-VAE checkpoint -> a diffusers model folder (config.json +
diffusion_pytorch_model.safetensors); a VAE, DiT or pipeline folder in the older reducio layout ->
diffusers' layout, same weights. The parser; the work is `reducio.cli.run.convert`."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert an official Reducio-VAE .ckpt (or an older reducio folder) to a diffusers folder",
        description="Read an official Reducio-VAE checkpoint without running code from it, load "
        "it strictly into ReducioVAE and save it in reducio's format.",
    )
    parser.add_argument("input", help="official checkpoint, e.g. reducio-ft4-fs32-attn23.ckpt, or a "
                                      "VAE, DiT or pipeline folder in the older reducio layout "
                                      "(model.safetensors), rewritten in diffusers' layout")
    parser.add_argument("-o", "--output", required=True,
                        help="output folder (or a .safetensors path with --single-file)")
    parser.add_argument("--config", default=None,
                        help="preset name (ft4, ft2, ft4-1024, ...), official YAML or config.json; "
                        "default: detected from the weights' shapes")
    parser.add_argument("--single-file", action="store_true",
                        help="write one self-describing .safetensors instead of a folder")
    parser.add_argument("--dtype", default=None, choices=["float32", "float16", "bfloat16"],
                        help="store the weights in this dtype (default float32)")
    parser.set_defaults(run="reducio.cli.run.convert")

