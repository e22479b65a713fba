"""The official release's weights as a ReducioVAE: its `.ckpt` files, variant names and Hub repo.

`ReducioVAE.from_single_file(path)` reads a released Lightning checkpoint (or any file in its
layout, or one of our single `.safetensors` files); `ReducioVAE.from_pretrained("ft4" | "ft2" |
"microsoft/Reducio-VAE")` fetches a released file from the Hub first. Pickles never run code
(convert/safe_load.py: `weights_only` first, then a restricted unpickler); the architecture of a
released file is recognised from its shapes (docs/architecture.md §3.3).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from reducio.loading.official import (
    DEFAULT_VARIANT,
    OFFICIAL_FILES,
    OFFICIAL_REPO_ID,
    clean_official_state_dict,
)
from reducio.loading.safe_load import (
    PICKLE_SUFFIXES,
    SAFETENSORS_SUFFIX,
    load_checkpoint_state_dict,
    read_safetensors,
)
from reducio.errors import CheckpointError, ConfigError, ModelNotFoundError
from reducio.loading.sources import check_hub_reachable, hub_error, is_offline
from reducio.models.modeling import META_CONFIG
from reducio.models.vae.config import VAEConfig
from reducio.models.vae.official_config import detect_official_preset, infer_official_config

if TYPE_CHECKING:
    from reducio.models.vae.autoencoder import ReducioVAE

logger = logging.getLogger(__name__)


def official_config(state_dict: Mapping[str, torch.Tensor]) -> VAEConfig:
    """The exact preset for the two released checkpoints, else a config read off the shapes."""
    try:
        name = detect_official_preset(state_dict)
    except CheckpointError:
        config = infer_official_config(state_dict)
        logger.info("not a released checkpoint; architecture inferred from the shapes (the "
                    "attention window is the release's; pass config= to change it)")
        return config
    logger.info("detected the released %s checkpoint", name)
    return VAEConfig.preset(name)


def load_vae_file(cls: type[ReducioVAE], path: str | os.PathLike, *, config: Any = None,
                  torch_dtype: torch.dtype | None = None,
                  device: torch.device | str | None = None) -> ReducioVAE:
    """`ReducioVAE.from_single_file`: an official `.ckpt`/`.pt`, an official-layout or our
    self-describing `.safetensors`, loaded strictly."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelNotFoundError(f"no such file: {str(path)!r}; download a released checkpoint with "
                                 f"`hf download {OFFICIAL_REPO_ID} {OFFICIAL_FILES['ft4']} "
                                 "--local-dir checkpoints`")
    if path.suffix == SAFETENSORS_SUFFIX:
        _, metadata = read_safetensors(path)
        if META_CONFIG in metadata:  # ours: the config travels with the weights
            return super(cls, cls).from_single_file(path, config=config, torch_dtype=torch_dtype,
                                                    device=device)
        tensors, _ = read_safetensors(path)
        state_dict = clean_official_state_dict(tensors)
    elif path.suffix in PICKLE_SUFFIXES:
        state_dict = clean_official_state_dict(load_checkpoint_state_dict(path))
    else:
        raise ModelNotFoundError(f"{path}: unknown weights file type {path.suffix!r}; expected "
                                 f"{SAFETENSORS_SUFFIX} or one of {', '.join(PICKLE_SUFFIXES)}")
    if not state_dict:
        raise CheckpointError(f"{path} holds no weights besides loss.* entries")
    return cls.from_state_dict(state_dict, config if config is not None else official_config(state_dict),
                               source=str(path), torch_dtype=torch_dtype, device=device)


def load_official_by_name(cls: type[ReducioVAE], name: str | os.PathLike,
                          kwargs: dict[str, Any]) -> ReducioVAE | None:
    """The released weights for "ft4" / "ft2" / "microsoft/Reducio-VAE" (kwargs: variant,
    revision, cache_dir, local_files_only, torch_dtype, device, config); None for other names."""
    text = os.fspath(name)
    folder = Path(text).expanduser()
    if folder.is_dir() and not (folder / "config.json").is_file():  # a `hf download --local-dir`
        variant = kwargs.get("variant") or DEFAULT_VARIANT
        file = folder / OFFICIAL_FILES.get(variant, variant)
        if not file.is_file():
            found = sorted(p.name for p in folder.iterdir())[:12]
            raise ModelNotFoundError(f"{folder} holds neither a saved model (config.json) nor the "
                                     f"released {variant} checkpoint {file.name}; found {found}")
        return load_vae_file(cls, file, config=kwargs.get("config"),
                             torch_dtype=kwargs.get("torch_dtype"), device=kwargs.get("device"))
    if text in OFFICIAL_FILES and not Path(text).exists():
        variant = text
    elif text.lower() == OFFICIAL_REPO_ID.lower():
        variant = kwargs.get("variant") or DEFAULT_VARIANT
    else:
        return None
    if variant not in OFFICIAL_FILES:
        raise ConfigError(f"unknown variant {variant!r} of {OFFICIAL_REPO_ID}; valid: {sorted(OFFICIAL_FILES)}")
    filename = OFFICIAL_FILES[variant]
    local_only = bool(kwargs.get("local_files_only")) or is_offline()
    check_hub_reachable(OFFICIAL_REPO_ID, "vae", local_files_only=local_only)
    from huggingface_hub import hf_hub_download  # network only for this path

    try:
        file = hf_hub_download(OFFICIAL_REPO_ID, filename, revision=kwargs.get("revision"),
                               cache_dir=kwargs.get("cache_dir"), local_files_only=local_only)
    except Exception as error:  # offline cache miss, missing file, gated: one message for all
        raise hub_error(OFFICIAL_REPO_ID, "vae", error, filename=filename) from None
    return load_vae_file(cls, file, config=kwargs.get("config"),
                         torch_dtype=kwargs.get("torch_dtype"), device=kwargs.get("device"))
