"""Initialise Reducio-DiT from a PixArt-alpha transformer (diffusers `PixArtTransformer2DModel`).

The paper's 3D attention "reuses the original (image-pretrained) parameters" (appendix, Tab. 5),
and the release's data pipeline is PixArt-alpha's (docs/architecture.md §5.2). Every spatial weight has a home:

    pos_embed.proj                 -> patch_embed           only if the latent channels match
                                                            (PixArt 4 SD channels, Reducio 16:
                                                            skipped, patch_embed keeps its init)
    adaln_single.emb.timestep_embedder.linear_{1,2} -> time_embed.linear_{1,2}
    adaln_single.linear            -> time_modulation
    caption_projection.linear_{1,2} -> text_proj.linear_{1,2}   (T5-XXL 4096 -> D)
    transformer_blocks.N.attn1.*   -> blocks.N.attn.*       (used over all t*h*w tokens in "3d")
    transformer_blocks.N.attn2.*   -> blocks.N.cross_attn.*
    transformer_blocks.N.ff.net.0.proj / ff.net.2 -> blocks.N.mlp.fc1 / fc2
    transformer_blocks.N.scale_shift_table -> blocks.N.scale_shift_table
    scale_shift_table              -> final.scale_shift_table

Skipped: `proj_out` (PixArt predicts 8 channels, eps + learned variance, of SD latents, in a
different value order; our output layer stays zero so the first prediction is 0), the 1024-MS
resolution / aspect-ratio embedders (`adaln_single.emb.{resolution,aspect_ratio}_embedder`).
New parts keep their init: image-semantic and content projections, null tokens, the temporal
attention of "2d+1d" (zero output: blocks start as the PixArt blocks), blocks beyond PixArt's depth.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from reducio.errors import CheckpointError, ModelNotFoundError
from reducio.loading.safe_load import load_checkpoint_state_dict

logger = logging.getLogger(__name__)

TOP_LEVEL = {
    "pos_embed.proj": "patch_embed",
    "adaln_single.emb.timestep_embedder.linear_1": "time_embed.linear_1",
    "adaln_single.emb.timestep_embedder.linear_2": "time_embed.linear_2",
    "adaln_single.linear": "time_modulation",
    "caption_projection.linear_1": "text_proj.linear_1",
    "caption_projection.linear_2": "text_proj.linear_2",
    "scale_shift_table": "final.scale_shift_table",
}
PER_BLOCK = {
    "attn1.to_q": "attn.to_q",
    "attn1.to_k": "attn.to_k",
    "attn1.to_v": "attn.to_v",
    "attn1.to_out.0": "attn.to_out",
    "attn2.to_q": "cross_attn.to_q",
    "attn2.to_k": "cross_attn.to_k",
    "attn2.to_v": "cross_attn.to_v",
    "attn2.to_out.0": "cross_attn.to_out",
    "ff.net.0.proj": "mlp.fc1",
    "ff.net.2": "mlp.fc2",
    "scale_shift_table": "scale_shift_table",
}
ALWAYS_SKIPPED = {
    "proj_out": "PixArt's output layer predicts 8 SD-latent channels (eps + variance) in another "
                "order; ours stays zero-initialised",
    "adaln_single.emb.resolution_embedder": "1024-MS size conditioning is not used by Reducio-DiT",
    "adaln_single.emb.aspect_ratio_embedder": "1024-MS size conditioning is not used by Reducio-DiT",
}
_BLOCK_KEY = re.compile(r"^transformer_blocks\.(\d+)\.(.+)\.(weight|bias)$|"
                        r"^transformer_blocks\.(\d+)\.(scale_shift_table)$")


@dataclass
class PixArtConversionReport:
    """Which PixArt tensors went where, which were skipped and why, which of ours kept their init."""

    mapped: dict[str, str] = field(default_factory=dict)       # pixart key -> our key
    skipped: dict[str, str] = field(default_factory=dict)      # pixart key -> reason
    kept_init: list[str] = field(default_factory=list)          # our keys not written

    def summary(self) -> str:
        lines = [f"PixArt -> Reducio-DiT: {len(self.mapped)} tensors mapped, "
                 f"{len(self.skipped)} skipped, {len(self.kept_init)} of ours kept their init"]
        reasons: dict[str, int] = {}
        for reason in self.skipped.values():
            reasons[reason] = reasons.get(reason, 0) + 1
        lines += [f"  skipped x{n}: {reason}" for reason, n in sorted(reasons.items())]
        return "\n".join(lines)


def convert_pixart_state_dict(pixart: dict[str, torch.Tensor], model: torch.nn.Module
                              ) -> tuple[dict[str, torch.Tensor], PixArtConversionReport]:
    """Rename a diffusers PixArt-alpha state dict onto `model` (a ReducioDiT); shapes are checked.

    Raises CheckpointError when the dict is not in diffusers' PixArt naming or its width differs
    from the model's (no block weight could be used).
    """
    _check_naming(pixart)
    ours = {name: tensor.shape for name, tensor in model.state_dict().items()}
    pixart_width = pixart["adaln_single.linear.weight"].shape[1]
    width = model.config.hidden_size
    if pixart_width != width:
        raise CheckpointError(
            f"the PixArt checkpoint has width {pixart_width} and the DiT {width}: no block weight "
            "fits. Use DiTConfig.preset('reducio-dit-pixart-xl') (PixArt-alpha XL/2 widths) or train "
            "this config from scratch")

    # The patch embedding maps as a pair: a bias without its weight would be meaningless.
    patch_weight = pixart.get("pos_embed.proj.weight")
    patch_weight = (None if patch_weight is None
                    else _conv_patch_to_linear(patch_weight, model.config.patch_size))
    patch_fits = patch_weight is not None and tuple(patch_weight.shape) == tuple(ours["patch_embed.weight"])

    report = PixArtConversionReport()
    converted: dict[str, torch.Tensor] = {}
    for key, tensor in pixart.items():
        reason = next((why for prefix, why in ALWAYS_SKIPPED.items() if key.startswith(prefix)), None)
        if reason is not None:
            report.skipped[key] = reason
            continue
        target = _target_name(key)
        if target is None:
            report.skipped[key] = "not a PixArt-alpha transformer weight reducio knows"
            continue
        if target not in ours:
            why = ("no such block in this DiT (depth " f"{model.config.depth})"
                   if target.startswith("blocks.") else f"this DiT has no {target.split('.')[0]}")
            report.skipped[key] = why
            continue
        if target.startswith("patch_embed"):
            if not patch_fits:
                report.skipped[key] = ("latent channels / patch differ (PixArt: 4-channel SD latent, "
                                       "2x2 patches); patch_embed keeps its init")
                continue
            tensor = patch_weight if target == "patch_embed.weight" else tensor
        if tuple(tensor.shape) != tuple(ours[target]):
            report.skipped[key] = f"shape {tuple(tensor.shape)} does not fit {target} {tuple(ours[target])}"
            continue
        converted[target] = tensor
        report.mapped[key] = target
    report.kept_init = sorted(set(ours) - set(converted))
    return converted, report


def init_from_pixart(model: torch.nn.Module, source: str | os.PathLike | dict[str, torch.Tensor]
                     ) -> PixArtConversionReport:
    """Copy the PixArt-alpha weights of `source` into `model` in place; returns the report.

    source: a diffusers PixArt pipeline folder (with transformer/), a transformer folder, a single
    .safetensors / .bin / .pth file in diffusers naming, or an already loaded state dict.
    """
    pixart = source if isinstance(source, dict) else read_pixart_state_dict(source)
    converted, report = convert_pixart_state_dict(pixart, model)
    param = next(model.parameters())
    converted = {k: v.to(device=param.device, dtype=param.dtype) for k, v in converted.items()}
    result = model.load_state_dict(converted, strict=False)
    if result.unexpected_keys:  # cannot happen after the shape check; guards the rename table
        raise CheckpointError(f"PixArt conversion produced unknown keys {result.unexpected_keys}")
    logger.info(report.summary())
    return report


def read_pixart_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """All weight tensors of a PixArt transformer (sharded files are merged), read without code."""
    path = Path(path)
    if not path.exists():
        raise ModelNotFoundError(f"PixArt checkpoint {path} does not exist; pass a diffusers PixArt "
                                 "folder (e.g. a download of PixArt-alpha/PixArt-XL-2-512x512) or a "
                                 "transformer weights file")
    if path.is_dir():
        folder = path / "transformer" if (path / "transformer").is_dir() else path
        files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
        if not files:
            raise ModelNotFoundError(f"no .safetensors or .bin weights in {folder}")
        state: dict[str, torch.Tensor] = {}
        for file in files:
            state.update(load_checkpoint_state_dict(file))
        return state
    return load_checkpoint_state_dict(path)


# ----------------------------------------------------------------------------- helpers
def _check_naming(pixart: dict[str, torch.Tensor]) -> None:
    if "adaln_single.linear.weight" in pixart:
        return
    if any(k.startswith(("x_embedder.", "t_block.", "blocks.0.attn.qkv")) for k in pixart):
        raise CheckpointError(
            "this is an original PixArt-alpha checkpoint (x_embedder / t_block / qkv naming); "
            "convert it to diffusers format first (diffusers' scripts/convert_pixart_alpha_to_"
            "diffusers.py) or download the diffusers version (PixArt-alpha/PixArt-XL-2-*)")
    raise CheckpointError("not a diffusers PixArtTransformer2DModel state dict: the key "
                          "'adaln_single.linear.weight' is missing")


def _target_name(key: str) -> str | None:
    match = _BLOCK_KEY.match(key)
    if match:
        if match.group(5):  # transformer_blocks.N.scale_shift_table
            return f"blocks.{match.group(4)}.scale_shift_table"
        index, module, kind = match.group(1), match.group(2), match.group(3)
        ours = PER_BLOCK.get(module)
        return None if ours is None else f"blocks.{index}.{ours}.{kind}"
    module, _, kind = key.rpartition(".")
    if key in TOP_LEVEL:  # a bare parameter (scale_shift_table)
        return TOP_LEVEL[key]
    ours = TOP_LEVEL.get(module)
    return None if ours is None else f"{ours}.{kind}"


def _conv_patch_to_linear(weight: torch.Tensor, patch_size: tuple[int, int, int]) -> torch.Tensor | None:
    """Conv2d (D, C, p, p) -> Linear (D, C*1*p*p) in our (c pt ph pw) order, for patch (1, p, p)."""
    pt, ph, pw = patch_size
    if pt != 1 or (ph, pw) != tuple(weight.shape[2:]):
        return None
    return weight.reshape(weight.shape[0], -1)
