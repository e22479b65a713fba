"""`reducio edit VIDEO --frame EDITED.png -o OUT`: edit a clip by editing its middle frame (the
parser; the work is `reducio.cli.run.edit`).

    reducio edit clip.mp4 --export-frame frame.png        # its content frame, at the size the VAE sees
    (edit frame.png in any image editor)
    reducio edit clip.mp4 --frame frame.png -o edited.mp4 [--side-by-side]

The clip's motion latent is encoded with its own content frame and decoded around the edited one
(`ReducioEditPipeline`, docs/edit.md).
"""

from __future__ import annotations

from reducio.cli.vae_options import add_input_args, add_model_args


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "edit", help="edit a video by editing its middle frame (the content frame)",
        description="Edit a clip through one frame: --export-frame writes its content frame (the middle of the "
                    "first VAE window) at the size the VAE works at; edit that image, then --frame decodes the "
                    "clip's motion around it (docs/edit.md).")
    parser.add_argument("input", help="video file or folder of frames")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--frame", help="the edited frame (png / jpg / bmp / webp)")
    action.add_argument("--export-frame", metavar="FRAME", help="write the frame to edit to this image and stop")
    parser.add_argument("-o", "--output", help="output video (with --frame)")
    parser.add_argument("--side-by-side", action="store_true", help="write input | edited video")
    parser.add_argument("--lossless", action="store_true", help="write lossless RGB video")
    add_input_args(parser, whole_clip=True)
    add_model_args(parser)
    parser.set_defaults(run="reducio.cli.run.edit")
