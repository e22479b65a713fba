"""`reducio reconstruct INPUT -o OUTPUT`: encode and decode videos, report PSNR / SSIM (the parser;
the work is `reducio.cli.run.reconstruct`)."""

from __future__ import annotations

from reducio.cli.arguments import seed
from reducio.cli.vae_options import add_input_args, add_vae_args


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "reconstruct", help="encode + decode videos with a Reducio-VAE and print PSNR / SSIM",
        description="Reconstruct videos through a Reducio-VAE: the whole clip by default, one VAE window "
                    "at a time (--frames / --start to limit; docs/reconstruct-a-video.md).",
    )
    parser.add_argument("input", nargs="+", help="video file, folder of videos, folder of frames or glob")
    parser.add_argument("-o", "--output", required=True,
                        help="output file (one input) or folder (<name>.mp4 per input)")
    parser.add_argument("--side-by-side", action="store_true", help="write input | reconstruction")
    parser.add_argument("--lossless", action="store_true", help="write lossless RGB video")
    parser.add_argument("--sample-posterior", action="store_true",
                        help="decode a posterior sample instead of the mode (the release samples)")
    parser.add_argument("--seed", type=seed, default=0, help="seed for --sample-posterior")
    add_input_args(parser, whole_clip=True)
    add_vae_args(parser)
    parser.set_defaults(run="reducio.cli.run.reconstruct")

