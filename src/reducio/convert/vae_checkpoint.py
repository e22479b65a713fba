"""Convert an official Reducio-VAE `.ckpt` into our folder or single-file format."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from reducio.convert.official import clean_official_state_dict, detect_official_preset
from reducio.convert.safe_load import load_checkpoint_state_dict
from reducio.convert.state_dict import count_parameters, load_state_dict_strict
from reducio.errors import CheckpointError
from reducio.hub import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    instantiate_for_loading,
    resolve_config,
    resolve_dtype,
    save_pretrained,
    save_single_file,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ConversionReport:
    """What `convert_official_vae` read and wrote."""

    source: str
    preset: str | None  # "ft4" / "ft2" for the released checkpoints, None otherwise
    keys_in_file: int
    loss_keys_dropped: int
    keys_loaded: int
    parameters: int
    outputs: tuple[str, ...]

    def lines(self) -> list[str]:
        detected = f"{self.preset} (released checkpoint)" if self.preset else "not a released preset"
        return [
            f"input:      {self.source}",
            f"detected:   {detected}",
            f"keys:       {self.keys_in_file} in file, {self.loss_keys_dropped} loss.* dropped, "
            f"{self.keys_loaded} loaded",
            f"parameters: {self.parameters:,}",
            f"wrote:      {', '.join(self.outputs)}",
        ]


def convert_official_vae(
    checkpoint: str | os.PathLike,
    output: str | os.PathLike,
    config: Any = None,
    single_file: bool = False,
    torch_dtype: torch.dtype | str | None = None,
) -> ConversionReport:
    """Read `checkpoint` safely, load it strictly into ReducioVAE and save it in our format.

    Args:
        checkpoint: an official `.ckpt` (or any official-layout state dict file).
        output: a folder (config.json + model.safetensors); with `single_file`, a `.safetensors`
            path or a folder that receives `<checkpoint stem>.safetensors`.
        config: preset name, VAEConfig, official YAML or config.json; default: detected from shapes.
        torch_dtype: store the weights in this dtype (default: float32, the model's own).
    """
    from reducio.models.vae.autoencoder import ReducioVAE
    from reducio.models.vae.pretrained import official_config

    checkpoint = Path(checkpoint)
    raw = load_checkpoint_state_dict(checkpoint)
    state_dict = clean_official_state_dict(raw)
    loss_keys = len(raw) - len(state_dict)
    if not state_dict:
        raise CheckpointError(f"{checkpoint} holds no weights besides loss.* entries")
    try:
        preset: str | None = detect_official_preset(state_dict)
    except CheckpointError:
        preset = None
    vae_config = resolve_config(ReducioVAE, config) if config is not None else official_config(state_dict)
    model = instantiate_for_loading(ReducioVAE, vae_config)
    load_state_dict_strict(model, state_dict, str(checkpoint), dtype=resolve_dtype(torch_dtype))

    output = Path(output)
    if single_file:
        target = output if output.suffix == ".safetensors" else output / f"{checkpoint.stem}.safetensors"
        outputs: tuple[str, ...] = (str(save_single_file(model, target)),)
    else:
        save_pretrained(model, output)
        outputs = (str(output / CONFIG_NAME), str(output / WEIGHTS_NAME))
    return ConversionReport(
        source=str(checkpoint), preset=preset, keys_in_file=len(raw), loss_keys_dropped=loss_keys,
        keys_loaded=len(state_dict), parameters=count_parameters(model), outputs=outputs,
    )
