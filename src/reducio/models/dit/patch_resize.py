"""A trained ReducioDiT with smaller patches: the warm start of a finer-grained model.

A DiT's blocks see tokens; only the patch embedding (patch values -> token) and the final layer
(token -> patch values) know the patch size, and the position embedding is measured in latent
pixels (`embeddings.video_positions`), so it carries over unchanged. Shrinking the patch by an
integer factor k per axis maps those two layers exactly:

- patch embedding: the new weight of a value is the sum of the old weights of the k^3 values it
  covers once the input is upsampled k times (nearest), so a small-patch token of x equals the
  old token of x upsampled: the blocks see what they were trained on, objects k times larger;
- final layer: the new output of a value is the mean of the old outputs of the values it covers
  (the old prediction box-filtered down by k).

Training from there (a fine-tune) teaches the blocks the finer grid; built from scratch, the same
model starts from nothing.
"""

from __future__ import annotations

import torch

from reducio.errors import ConfigError
from reducio.models.dit.config import DiTConfig
from reducio.models.dit.transformer import ReducioDiT


def patch_factors(old: tuple[int, int, int], new: tuple[int, int, int]) -> tuple[int, int, int]:
    """Per-axis factors k = old / new; ConfigError unless each new entry divides the old one."""
    old, new = tuple(int(p) for p in old), tuple(int(p) for p in new)
    if len(new) != 3 or any(p < 1 for p in new) or any(o % n for o, n in zip(old, new)):
        raise ConfigError(f"patch_size {list(new)} cannot be derived from a DiT with patch_size "
                          f"{list(old)}: each entry must be >= 1 and divide the old one "
                          f"(e.g. {[max(1, o // 2) for o in old]})")
    return tuple(o // n for o, n in zip(old, new))


def _split(weight: torch.Tensor, channels: int, new: tuple[int, int, int],
           factors: tuple[int, int, int]) -> torch.Tensor:
    """(..., C*pt*ph*pw) over old patches -> (..., C, nt, kt, nh, kh, nw, kw): each old patch axis
    split into (new position, offset inside the k-block), in patchify's (c pt ph pw) order."""
    (nt, nh, nw), (kt, kh, kw) = new, factors
    return weight.reshape(*weight.shape[:-1], channels, nt, kt, nh, kh, nw, kw)


@torch.no_grad()
def with_patch_size(dit: ReducioDiT, patch_size: tuple[int, int, int] | list[int]) -> ReducioDiT:
    """A new ReducioDiT with `patch_size`, every weight copied from `dit` and the patch embedding
    and final layer mapped as the module docstring says (same dtype and device)."""
    old = tuple(dit.arch.patch_size)
    new = tuple(int(p) for p in patch_size)
    factors = patch_factors(old, new)
    config: DiTConfig = dit.arch.replace(patch_size=list(new))
    state = dict(dit.state_dict())
    if factors != (1, 1, 1):
        offsets = (-5, -3, -1)                        # kt, kh, kw in _split's layout
        embed = state["patch_embed.weight"]                                   # D, C*pt*ph*pw
        embed = _split(embed, config.in_channels, new, factors).sum(offsets)  # D C nt nh nw
        state["patch_embed.weight"] = embed.reshape(embed.shape[0], -1)
        out_weight = state["final.linear.weight"].T                           # D, C*pt*ph*pw
        out_weight = _split(out_weight, config.out_channels, new, factors).mean(offsets)
        state["final.linear.weight"] = out_weight.reshape(out_weight.shape[0], -1).T.contiguous()
        out_bias = _split(state["final.linear.bias"], config.out_channels, new, factors).mean(offsets)
        state["final.linear.bias"] = out_bias.reshape(-1)
    resized = ReducioDiT(config)
    resized.load_state_dict(state, strict=True)                  # into float32 parameters
    parameter = next(dit.parameters())
    if parameter.dtype != torch.float32:
        resized = resized.to(dtype=parameter.dtype)
    return resized.to(parameter.device).train(dit.training)


__all__ = ["patch_factors", "with_patch_size"]
