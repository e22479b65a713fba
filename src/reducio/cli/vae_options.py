"""The VAE and input options of `reducio reconstruct`, `encode`, `edit`, `transfer` and `eval recon`.

Parser pieces only (argparse and the light `arguments` module): what the options mean at run time
lives in `reducio.cli.vae_io`.
"""

from __future__ import annotations

import argparse

from reducio.cli.arguments import DTYPE_NAMES, non_negative_int, non_negative_number, positive_int, positive_number

DEFAULT_VAE = "tiny"
VAE_HELP = ("VAE: built-in name (tiny), folder, .safetensors, official .ckpt, ft4/ft2 or a hub id "
            f"(default: {DEFAULT_VAE})")


def add_vae_args(parser: argparse.ArgumentParser) -> None:
    """--vae --device --dtype --batch-size --tiling (reconstruct, encode, eval recon)."""
    group = _model_group(parser)
    group.add_argument("--batch-size", type=positive_int, default=1, help="VAE windows per forward pass")


def add_model_args(parser: argparse.ArgumentParser) -> None:
    """--vae --device --dtype --tiling (edit, transfer and their evaluations: one clip at a time)."""
    _model_group(parser)
    parser.set_defaults(batch_size=1)


def _model_group(parser: argparse.ArgumentParser):
    group = parser.add_argument_group("model")
    group.add_argument("--vae", default=DEFAULT_VAE, help=VAE_HELP)
    group.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    group.add_argument("--dtype", default="fp32", choices=DTYPE_NAMES, help="weights and compute dtype")
    group.add_argument("--tiling", action="store_true", help="spatial tiling for large frames (e.g. 1024 px)")
    return group


def add_input_args(parser: argparse.ArgumentParser, whole_clip: bool = False) -> None:
    """Input options; `whole_clip`: --frames defaults to the whole clip (reconstruct, encode), else 16."""
    group = parser.add_argument_group("input")
    group.add_argument("--size", default=None,
                       help="S or HxW, multiples of 32: resize the short side and centre-crop "
                            "(default: 64 for --vae tiny, else the clip's size cropped to multiples of 32)")
    group.add_argument("--fps", type=positive_number, default=16, help="frame rate to sample the clip at (default 16)")
    if whole_clip:
        group.add_argument("--frames", type=non_negative_int, default=0,
                           help="frames to read per clip from --start (default 0 = the whole clip, one VAE "
                                "window at a time). A length that is not a whole number of windows is "
                                "padded by repeating its last frame; the padding is cut off after decoding")
    else:
        group.add_argument("--frames", type=non_negative_int, default=16,
                           help="frames to read per clip (default 16); 0 = the whole clip")
    group.add_argument("--start", type=non_negative_number, default=0.0, help="start time in seconds (default 0)")
    group.add_argument("--sampling", default="nearest", choices=("nearest", "stride"),
                       help="nearest timestamp (default) or the release's integer stride round(src_fps/fps)")
