"""`reducio decode latents.safetensors -o out.mp4`: videos from a file written by `reducio encode`
(the parser; the work is `reducio.cli.run.decode`)."""

from __future__ import annotations

from reducio.cli.arguments import DTYPE_NAMES, positive_int


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "decode", help="decode a latents .safetensors (from `reducio encode`) into videos",
        description="Decode motion latents + content frames with the Reducio-VAE that encoded them.",
    )
    parser.add_argument("input", help="latents .safetensors written by `reducio encode`")
    parser.add_argument("-o", "--output", required=True,
                        help="output video (one clip) or folder (<name>.mp4 per clip)")
    parser.add_argument("--vae", default=None, help="VAE to decode with (default: the one recorded in the file)")
    parser.add_argument("--device", default=None, help="cpu, cuda ... (default: cuda if available)")
    parser.add_argument("--dtype", default="fp32", choices=DTYPE_NAMES)
    parser.add_argument("--batch-size", type=positive_int, default=1, help="windows per forward pass")
    parser.add_argument("--tiling", action="store_true", help="spatial tiling (use it if encode used it)")
    parser.add_argument("--lossless", action="store_true", help="write lossless RGB video")
    parser.set_defaults(run="reducio.cli.run.decode")

