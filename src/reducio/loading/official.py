"""The released microsoft/Reducio-VAE checkpoints -> our VAE (docs/architecture.md §3).

The release's key names are kept as they are by `ReducioVAE`, so converting is: take the Lightning
`state_dict`, strip a DDP `module.` prefix, drop the training-only `loss.*` entries (LPIPS and the
discriminator), and work out the architecture from the tensor shapes when no config is given.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import torch

from reducio.errors import CheckpointError

logger = logging.getLogger(__name__)

OFFICIAL_REPO_ID = "microsoft/Reducio-VAE"
OFFICIAL_FILES = {
    "ft4": "reducio-ft4-fs32-attn23.ckpt",  # f_t=2: 16x256x256 -> 16x4x8x8
    "ft2": "reducio-ft2-fs32-attn23.ckpt",  # f_t=1: 16x256x256 -> 16x8x8x8
}
DEFAULT_VARIANT = "ft4"
RELEASED_PRESETS = tuple(OFFICIAL_FILES)

# The values the release configs use for settings that may leave no trace in the weights.
_RELEASED_WINDOW_SIZE = 128
_RELEASED_FRAMES = 16  # ddconfig.temp_res: frames per clip window


def clean_official_state_dict(state_dict: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Weights of an official checkpoint as our VAE names them.

    Accepts the whole checkpoint (`{"state_dict": ...}`) or the bare state dict. Strips a leading
    `module.` (DDP), drops `loss.*` (LPIPS / discriminator, training only).
    """
    if "state_dict" in state_dict and isinstance(state_dict["state_dict"], Mapping):
        state_dict = state_dict["state_dict"]
    cleaned: dict[str, torch.Tensor] = {}
    dropped = 0
    for key, value in state_dict.items():
        name = key[len("module."):] if key.startswith("module.") else key
        if name.startswith("loss."):
            dropped += 1
            continue
        if name in cleaned:
            raise CheckpointError(f"key {name!r} appears both with and without the 'module.' prefix")
        cleaned[name] = value
    logger.debug("dropped %d training-only loss.* keys, kept %d", dropped, len(cleaned))
    return cleaned


def infer_official_params(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """The release's `model.params` (embed_dim, ddconfig, ddconfig_2d) implied by the shapes."""
    shapes = {k: tuple(v.shape) for k, v in state_dict.items() if hasattr(v, "shape")}
    if not any(k.startswith("encoder_3d.") for k in shapes):
        raise CheckpointError(
            "not a Reducio-VAE state dict in the official layout (no encoder_3d.* keys; first keys: "
            f"{list(shapes)[:5]}); pass config= and a checkpoint with the release's key names"
        )

    def shape(key: str) -> tuple[int, ...]:
        if key not in shapes:
            raise CheckpointError(f"cannot infer the VAE architecture: key {key!r} is missing; "
                                  "pass config=")
        return shapes[key]

    # ---------------------------------------------------------------- 3D motion encoder
    conv_in = shape("encoder_3d.conv_in.weight")  # C 3 3 3 3
    if len(conv_in) != 5:
        raise CheckpointError(f"encoder_3d.conv_in.weight is {conv_in}, expected a 3D conv (5 dims)")
    ch, in_channels = conv_in[0], conv_in[1]
    levels = _count(shapes, r"encoder_3d\.down\.(\d+)\.")
    num_res_blocks = _count(shapes, r"encoder_3d\.down\.0\.block\.(\d+)\.")
    ch_mult = [_ratio(shape(f"encoder_3d.down.{i}.block.0.conv1.weight")[0], ch,
                      f"encoder_3d.down.{i}") for i in range(levels)]
    # A full (T, H, W) downsampler has a 3x3x3 kernel, a spatial one 1x3x3 (docs/architecture.md §2.1).
    full = [shape(f"encoder_3d.down.{i}.downsample.conv.weight")[2] == 3 for i in range(levels - 1)]
    f_t = sum(full)
    if full != [i >= levels - 1 - f_t for i in range(levels - 1)]:
        raise CheckpointError(
            f"encoder_3d downsamples time at levels {[i for i, f in enumerate(full) if f]}; the "
            "release always uses the last levels before the bottom one; pass config="
        )
    z_channels = _ratio(shape("encoder_3d.conv_out.weight")[0], 2, "encoder_3d.conv_out")
    embed_dim = shape("post_quant_conv.weight")[0]
    if shape("quant_conv.weight")[0] != 2 * embed_dim:
        raise CheckpointError(f"quant_conv has {shape('quant_conv.weight')[0]} outputs, expected "
                              f"2 x post_quant_conv's {embed_dim}")

    # ---------------------------------------------------------------- 2D content encoder
    conv_in_2d = shape("encoder_2d.conv_in.weight")
    ch_2d = conv_in_2d[0]
    levels_2d = _count(shapes, r"encoder_2d\.down\.(\d+)\.")
    ch_mult_2d = [_ratio(shape(f"encoder_2d.down.{i}.block.0.conv1.weight")[0], ch_2d,
                         f"encoder_2d.down.{i}") for i in range(levels_2d)]
    feature_channels = [ch_2d * m for m in ch_mult_2d] + [ch_2d * ch_mult_2d[-1]]  # levels + mid

    # ---------------------------------------------------------------- fusion decoder
    ch_in = _ratio(shape("decoder.up.0.block_1.0.conv1.weight")[0], ch_mult[0], "decoder.up.0")
    if shape("decoder.conv_in.weight")[0] != ch * ch_mult[-1]:
        raise CheckpointError("decoder.conv_in width differs from encoder ch x ch_mult[-1]; pass config=")
    if _count(shapes, r"decoder\.up\.0\.block_1\.(\d+)\.") != num_res_blocks:
        raise CheckpointError("decoder and encoder_3d have different numbers of res blocks; pass config=")
    ch_fuse = [_fuse_source(shapes, i, feature_channels) for i in range(levels)]
    fuse_mid = "decoder.mid.fuse.0.attn.to_q.weight" in shapes
    temp_res = _frames(shapes, levels, f_t, fuse_mid, ch_fuse)

    return {
        "embed_dim": embed_dim,
        "ddconfig": {
            "ch": ch, "ch_in": ch_in, "f_t": f_t, "out_ch": shape("decoder.conv_out.weight")[0],
            "z_channels": z_channels, "in_channels": in_channels, "temp_res": temp_res,
            "ch_mult": ch_mult, "ch_fuse": ch_fuse, "fuse_type": "attn",
            "num_res_blocks": num_res_blocks, "attn_resolutions": [], "use_3d_conv": True,
            "upsample_first": True, "fuse_mid": fuse_mid, "pos_embed_mode": "t",
            "window_size": _RELEASED_WINDOW_SIZE,
        },
        "ddconfig_2d": {
            "ch": ch_2d, "in_channels": conv_in_2d[1], "ch_mult": ch_mult_2d,
            "num_res_blocks": _count(shapes, r"encoder_2d\.down\.0\.block\.(\d+)\."),
            "attn_resolutions": [], "out_z": False,
        },
    }


def _fuse_source(shapes: dict[str, tuple[int, ...]], level: int, feature_channels: list[int]) -> int:
    """Which content feature decoder level `level` cross-attends to (-1: none)."""
    key = f"decoder.up.{level}.fuse.0.attn.to_k.weight"  # D x Dc
    if key not in shapes:
        return -1
    context = shapes[key][1]
    # The release pairs decoder level i with content level i (same spatial size); other pairings
    # are read off the context width when it is unambiguous.
    if level < len(feature_channels) and feature_channels[level] == context:
        return level
    matches = [k for k, c in enumerate(feature_channels) if c == context]
    if len(matches) != 1:
        raise CheckpointError(f"cannot tell which content feature decoder level {level} fuses "
                              f"(context width {context}); pass config=")
    return matches[0]


def _frames(shapes: dict[str, tuple[int, ...]], levels: int, f_t: int, fuse_mid: bool,
            ch_fuse: list[int]) -> int:
    """Frames per clip from the temporal `pos_embed` tables (1 x T_level x 1 x D)."""
    implied: dict[str, int] = {}
    if fuse_mid:
        implied["decoder.mid.fuse.0.pos_embed"] = shapes["decoder.mid.fuse.0.pos_embed"][1] * 2**f_t
    for i, source in enumerate(ch_fuse):
        if source < 0:
            continue
        # Time doubles at every level j > i that upsamples fully (j >= levels - f_t).
        doublings = sum(1 for j in range(i + 1, levels) if j >= levels - f_t)
        key = f"decoder.up.{i}.fuse.0.pos_embed"
        if key in shapes:
            implied[key] = shapes[key][1] * 2 ** (f_t - doublings)
    values = set(implied.values())
    if len(values) > 1:
        raise CheckpointError(f"pos_embed lengths disagree on the frame count: {implied}; pass config=")
    if not values:
        logger.info("no temporal pos_embed in the weights; assuming the release's %d frames",
                    _RELEASED_FRAMES)
        return _RELEASED_FRAMES
    return values.pop()


def _count(shapes: Mapping[str, Any], pattern: str) -> int:
    found = {int(m.group(1)) for k in shapes if (m := re.match(pattern, k))}
    if not found:
        raise CheckpointError(f"cannot infer the VAE architecture: no key matches {pattern!r}; "
                              "pass config=")
    if found != set(range(len(found))):
        raise CheckpointError(f"keys matching {pattern!r} skip indices ({sorted(found)}); pass config=")
    return len(found)


def _ratio(width: int, base: int, where: str) -> int:
    if width % base:
        raise CheckpointError(f"{where}: width {width} is not a multiple of {base}; pass config=")
    return width // base
