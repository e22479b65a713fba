"""`reducio transfer --motion A.mp4 --content B.png -o OUT`: A's motion decoded around B's picture
(the parser; the work is `reducio.cli.run.transfer`).

The motion latent of A (encoded with A's own content frame) is decoded around B
(`ReducioMotionTransferPipeline`, docs/edit.md); B becomes the content frame (the middle of the
first VAE window). B is an image, or a video whose content frame is taken at the same size options.
"""

from __future__ import annotations

from reducio.cli.vae_options import add_input_args, add_model_args


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "transfer", help="decode one video's motion around another picture",
        description="Motion transfer: decode the motion of --motion around --content (an image, or a video's "
                    "content frame), which becomes the content frame of the output: the middle of the first "
                    "VAE window (docs/edit.md).")
    parser.add_argument("--motion", required=True, help="the video whose motion is kept")
    parser.add_argument("--content", required=True,
                        help="the picture to animate: an image, or a video (its content frame)")
    parser.add_argument("-o", "--output", required=True, help="output video")
    parser.add_argument("--side-by-side", action="store_true", help="write motion | content | result")
    parser.add_argument("--lossless", action="store_true", help="write lossless RGB video")
    add_input_args(parser, whole_clip=True)
    add_model_args(parser)
    parser.set_defaults(run="reducio.cli.run.transfer")
