"""`reducio encode INPUT -o latents.safetensors`: motion latents + content frames of videos (the
parser; the work is `reducio.cli.run.encode`)."""

from __future__ import annotations

from reducio.cli.arguments import seed
from reducio.cli.vae_options import add_input_args, add_vae_args


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "encode", help="encode videos into a .safetensors of motion latents and content frames",
        description="Encode videos with a Reducio-VAE, the whole clip by default, one latent per VAE "
                    "window (--frames / --start to limit); `reducio decode` turns the file back into video.",
    )
    parser.add_argument("input", nargs="+", help="video file, folder of videos, folder of frames or glob")
    parser.add_argument("-o", "--output", required=True, help="output .safetensors file")
    parser.add_argument("--sample-posterior", action="store_true", help="store a posterior sample, not the mode")
    parser.add_argument("--seed", type=seed, default=0, help="seed for --sample-posterior")
    add_input_args(parser, whole_clip=True)
    add_vae_args(parser)
    parser.set_defaults(run="reducio.cli.run.encode")

