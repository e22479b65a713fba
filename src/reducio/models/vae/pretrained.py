"""`ReducioVAE.from_pretrained`: our folders and files, built-ins, and the official release."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from reducio.convert.official import (
    DEFAULT_VARIANT,
    OFFICIAL_FILES,
    OFFICIAL_REPO_ID,
    clean_official_state_dict,
    detect_official_preset,
    infer_official_config,
)
from reducio.errors import CheckpointError
from reducio.hub import OfficialFormat, load_pretrained

if TYPE_CHECKING:
    from reducio.models.vae.autoencoder import ReducioVAE
    from reducio.models.vae.config import VAEConfig

logger = logging.getLogger(__name__)


def official_config(state_dict: Mapping[str, torch.Tensor]) -> VAEConfig:
    """The exact preset for the two released checkpoints, else a config read off the shapes."""
    from reducio.models.vae.config import VAEConfig

    try:
        name = detect_official_preset(state_dict)
    except CheckpointError:
        config = infer_official_config(state_dict)
        logger.info("not a released checkpoint; architecture inferred from the shapes (window and "
                    "tiling settings are the release's defaults; pass config= to change them)")
        return config
    logger.info("detected the released %s checkpoint", name)
    return VAEConfig.preset(name)


VAE_OFFICIAL = OfficialFormat(
    repo_id=OFFICIAL_REPO_ID,
    files=OFFICIAL_FILES,
    default_variant=DEFAULT_VARIANT,
    clean=clean_official_state_dict,
    infer_config=official_config,
)


def load_vae(
    path_or_id: str | os.PathLike,
    config: VAEConfig | str | os.PathLike | None = None,
    torch_dtype: torch.dtype | str | None = None,
    device: torch.device | str | None = None,
    variant: str | None = None,
    **kwargs: Any,
) -> ReducioVAE:
    """A ReducioVAE with weights from a folder, file, built-in name or hub id, in eval mode.

    Args:
        path_or_id: our folder (config.json + model.safetensors), a `.safetensors` file, an official
            `.ckpt` (e.g. reducio-ft4-fs32-attn23.ckpt), a folder holding one, "ft4"/"ft2" (the
            released checkpoints from the hub), "microsoft/Reducio-VAE", another hub id, or a
            built-in name installed under reducio/assets/vae-<name>/.
        config: a VAEConfig, a preset name ("ft4-1024" for the tiled 1024 px setting), a path to
            an official YAML or to our config.json. Default: the stored config, or for official
            weights the released preset detected from the shapes.
        torch_dtype: e.g. torch.float16; device: e.g. "cuda".
        variant: "ft4" (default) or "ft2" for the official release.
        kwargs: `revision`, `cache_dir` for hub downloads.
    """
    from reducio.models.vae.autoencoder import ReducioVAE

    return load_pretrained(
        ReducioVAE, path_or_id, config=config, torch_dtype=torch_dtype, device=device,
        variant=variant, kind="vae", official=VAE_OFFICIAL, **kwargs,
    )
