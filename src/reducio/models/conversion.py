"""`reducio convert`: an official Reducio-VAE `.ckpt`, or a folder written by an older reducio,
into the current format (diffusers' config.json + diffusion_pytorch_model.safetensors)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from reducio.loading.official import clean_official_state_dict
from reducio.loading.safe_load import load_checkpoint_state_dict
from reducio.loading.state_dict import count_parameters
from reducio.errors import CheckpointError, ConfigError
from reducio.loading.dtypes import resolve_dtype
from reducio.models.dit import ReducioDiT
from reducio.models.modeling import CONFIG_NAME, LEGACY_WEIGHTS
from reducio.models.vae import ReducioVAE
from reducio.models.vae.official_config import detect_official_preset

logger = logging.getLogger(__name__)

DIFFUSERS_WEIGHTS = "diffusion_pytorch_model.safetensors"


@dataclass(frozen=True, kw_only=True)
class ConversionReport:
    """What a conversion read and wrote."""

    source: str
    preset: str | None  # "ft4" / "ft2" for the released checkpoints, None otherwise
    keys_in_file: int
    loss_keys_dropped: int
    keys_loaded: int
    parameters: int
    outputs: tuple[str, ...]
    model: str = "ReducioVAE"

    def lines(self) -> list[str]:
        detected = f"{self.preset} (released checkpoint)" if self.preset else "not a released preset"
        return [
            f"input:      {self.source}",
            f"model:      {self.model}, {detected}" if self.model == "ReducioVAE" else f"model:      {self.model}",
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
    """Read `checkpoint` safely, load it strictly into ReducioVAE and save it.

    Args:
        checkpoint: an official `.ckpt` (or any official-layout state dict file).
        output: a folder (config.json + diffusion_pytorch_model.safetensors); with `single_file`,
            a `.safetensors` path or a folder that receives `<checkpoint stem>.safetensors`.
        config: preset name, VAEConfig, official YAML or config.json; default: detected from shapes.
        torch_dtype: store the weights in this dtype (default: float32, the model's own).
    """
    checkpoint = Path(checkpoint)
    raw = load_checkpoint_state_dict(checkpoint)
    state_dict = clean_official_state_dict(raw)
    if not state_dict:
        raise CheckpointError(f"{checkpoint} holds no weights besides loss.* entries")
    try:
        preset: str | None = detect_official_preset(state_dict)
    except CheckpointError:
        preset = None
    model = ReducioVAE.from_single_file(checkpoint, config=config,
                                        torch_dtype=resolve_dtype(torch_dtype))
    output = Path(output)
    if single_file:
        target = output if output.suffix == ".safetensors" else output / f"{checkpoint.stem}.safetensors"
        outputs: tuple[str, ...] = (str(model.save_single_file(target)),)
    else:
        model.save_pretrained(output)
        outputs = (str(output / CONFIG_NAME), str(output / DIFFUSERS_WEIGHTS))
    return ConversionReport(
        source=str(checkpoint), preset=preset, keys_in_file=len(raw),
        loss_keys_dropped=len(raw) - len(state_dict), keys_loaded=len(state_dict),
        parameters=count_parameters(model), outputs=outputs,
    )


def is_model_folder(path: str | os.PathLike) -> bool:
    """True for a VAE or DiT folder written by an older reducio (config.json + model.safetensors)."""
    folder = Path(path)
    return folder.is_dir() and (folder / CONFIG_NAME).is_file() and any(
        (folder / name).is_file() for name in LEGACY_WEIGHTS)


def upgrade_model_folder(source: str | os.PathLike, output: str | os.PathLike,
                         torch_dtype: torch.dtype | str | None = None) -> ConversionReport:
    """Rewrite an older VAE or DiT folder in the current format (same weights, strict load).

    Which model it holds is read off its config's keys: a VAE config has `channel_mult`, a DiT
    config `hidden_size`."""
    source = Path(source)
    keys = set(json.loads((source / CONFIG_NAME).read_text()))
    cls = ReducioVAE if "channel_mult" in keys else ReducioDiT if "hidden_size" in keys else None
    if cls is None:
        raise ConfigError(f"{source / CONFIG_NAME} is neither a VAE nor a DiT config (keys: "
                          f"{sorted(keys)[:8]}...)")
    model = cls.from_pretrained(source, torch_dtype=resolve_dtype(torch_dtype))
    model.save_pretrained(output)
    count = len(model.state_dict())
    return ConversionReport(source=str(source), preset=None, keys_in_file=count, loss_keys_dropped=0,
                            keys_loaded=count, parameters=count_parameters(model),
                            outputs=(str(Path(output) / CONFIG_NAME), str(Path(output) / DIFFUSERS_WEIGHTS)),
                            model=cls.__name__)
