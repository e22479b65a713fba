"""LoRA adapters on the Reducio-DiT with peft, written in diffusers' LoRA format.

Training (`reducio train dit --set lora.rank=R`): `add_lora` freezes the DiT loaded from
`model.init` and injects peft LoRA layers into the linears named by `lora.targets`; only those
adapters train (and are averaged by the EMA).

Export (`save_lora`): one `pytorch_lora_weights.safetensors`, as diffusers'
`LoraBaseMixin.write_lora_layers` writes it for a pipeline's `transformer`:

- tensors: `transformer.<module path>.lora_A.weight` (rank x in) and `.lora_B.weight`
  (out x rank), i.e. peft's `get_peft_model_state_dict` prefixed with `transformer.`
  (e.g. `transformer.blocks.0.attn.to_q.lora_A.weight`); nothing else;
- safetensors metadata: `format: pt` and `lora_adapter_metadata`, the JSON (indent 2, sorted keys)
  of the adapter's `LoraConfig.to_dict()` with every key prefixed `transformer.`
  (`transformer.r`, `transformer.lora_alpha`, `transformer.target_modules`, ...).

So `pipe.load_lora_weights(folder)` of a diffusers pipeline whose DiT is `pipe.transformer` (a
`PeftAdapterMixin`) loads it, and `load_lora_into_dit(dit, folder, scale)` loads it into any DiT
module (a plain `nn.Module` too).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reducio.errors import CheckpointError, ConfigError
from reducio.training.config import LoRASection

ADAPTER_NAME = "default"
LORA_WEIGHT_NAME = "pytorch_lora_weights.safetensors"  # diffusers' LORA_WEIGHT_NAME_SAFE
LORA_METADATA_KEY = "lora_adapter_metadata"  # diffusers' LORA_ADAPTER_METADATA_KEY
PREFIX = "transformer"  # the pipeline component a diffusers LoRA loader hands these weights to


def lora_config(section: LoRASection):
    """The peft `LoraConfig` of a `lora` section (B starts at zero: the adapted model starts as the base)."""
    from peft import LoraConfig

    return LoraConfig(r=section.rank, lora_alpha=section.alpha or section.rank,
                      target_modules=list(section.targets), lora_dropout=section.dropout, init_lora_weights=True)


def add_lora(model: nn.Module, section: LoRASection, adapter_name: str = ADAPTER_NAME) -> nn.Module:
    """Freeze `model` and inject a trainable LoRA adapter into the modules named by `section.targets`.

    A model with diffusers' `add_adapter` (PeftAdapterMixin) gets the adapter through it, which
    injects the same peft layers and also records the adapter for diffusers' own LoRA methods.
    """
    from peft import inject_adapter_in_model

    if not section.enabled:
        raise ConfigError(f"lora.rank is {section.rank}: no adapter to add; set lora.rank >= 1")
    config = lora_config(section)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    try:
        if hasattr(model, "add_adapter"):
            model.add_adapter(config, adapter_name=adapter_name)
        else:
            inject_adapter_in_model(config, model, adapter_name)
    except ValueError as error:
        linears = sorted({name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, nn.Linear)})
        raise ConfigError(f"lora.targets={list(section.targets)} match no layer of {type(model).__name__} ({error}); "
                          f"its linear layers are named {', '.join(linears)}") from None
    return model


def lora_parameter_names(model: nn.Module) -> list[str]:
    """Names of the LoRA tensors of `model` (its trainable parameters once `add_lora` froze the rest)."""
    return [name for name, p in model.named_parameters() if p.requires_grad and ".lora_" in name]


def adapter_config(model: nn.Module, adapter_name: str = ADAPTER_NAME):
    configs = getattr(model, "peft_config", None) or {}
    if adapter_name not in configs:
        raise ConfigError(f"{type(model).__name__} has no LoRA adapter {adapter_name!r} "
                          f"(adapters: {sorted(configs) or 'none'}); add one with add_lora first")
    return configs[adapter_name]


def lora_state_dict(model: nn.Module, adapter_name: str = ADAPTER_NAME) -> dict[str, torch.Tensor]:
    """The adapter's tensors under diffusers' names: `transformer.<module path>.lora_A.weight` / `lora_B`."""
    from peft import get_peft_model_state_dict

    state = get_peft_model_state_dict(model, adapter_name=adapter_name)
    return {f"{PREFIX}.{key}": tensor.detach().cpu().contiguous() for key, tensor in state.items()}


def save_lora(model: nn.Module, directory: str | Path, adapter_name: str = ADAPTER_NAME) -> Path:
    """Write the adapter (only) to `directory/pytorch_lora_weights.safetensors`; see the module docstring."""
    from safetensors.torch import save_file

    state = lora_state_dict(model, adapter_name)
    config = {f"{PREFIX}.{key}": sorted(value) if isinstance(value, set) else value
              for key, value in adapter_config(model, adapter_name).to_dict().items()}
    path = Path(directory) / LORA_WEIGHT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata={"format": "pt", LORA_METADATA_KEY: json.dumps(config, indent=2, sort_keys=True)})
    return path


def _lora_file(path: str | Path) -> Path:
    path = Path(path)
    file = path / LORA_WEIGHT_NAME if path.is_dir() else path
    if not file.is_file():
        raise CheckpointError(f"no LoRA weights at {str(file)!r}; pass the folder `reducio train dit "
                              f"--set lora.rank=R` exported (run_dir/final) or its {LORA_WEIGHT_NAME}")
    return file


def _read(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, adapter metadata) of a saved adapter, both keyed with the `transformer.` prefix."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    file = _lora_file(path)
    with safe_open(str(file), framework="pt") as handle:
        metadata = handle.metadata() or {}
    raw = metadata.get(LORA_METADATA_KEY)
    if not raw:
        raise CheckpointError(f"{file} has no {LORA_METADATA_KEY!r} metadata (rank, alpha, targets); it was not "
                              "written by save_lora / diffusers' save_lora_weights")
    state = load_file(str(file))
    foreign = sorted(key for key in state if not key.startswith(f"{PREFIX}.") or ".lora_" not in key)
    if foreign:
        raise CheckpointError(f"{file} holds {len(foreign)} tensors that are not {PREFIX}.*.lora_* weights "
                              f"(first: {foreign[0]}); it is not a DiT LoRA")
    return state, json.loads(raw)


def _strip(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key[len(PREFIX) + 1:]: value for key, value in mapping.items() if key.startswith(f"{PREFIX}.")}


def read_lora(path: str | Path) -> tuple[dict[str, torch.Tensor], Any]:
    """(peft state dict without the `transformer.` prefix, peft LoraConfig) of a saved adapter."""
    from peft import LoraConfig

    state, metadata = _read(path)
    return _strip(state), LoraConfig(**_strip(metadata))


def load_lora_into_dit(dit: nn.Module, path: str | Path, scale: float = 1.0,
                       adapter_name: str = ADAPTER_NAME) -> nn.Module:
    """Inject a saved adapter into `dit` and load its weights; its update is multiplied by `scale`.

    A DiT with diffusers' `load_lora_adapter` (PeftAdapterMixin) loads through it, given the
    file's metadata (diffusers reads the metadata of a path only through a pipeline's
    `load_lora_weights`; without it, it would take alpha = rank); a plain module through peft
    (`inject_adapter_in_model` + `set_peft_model_state_dict`). Every adapter tensor must find its
    layer: a LoRA trained on another architecture fails here instead of loading in part.
    """
    from peft import LoraConfig, inject_adapter_in_model, set_peft_model_state_dict

    state, metadata = _read(path)
    if hasattr(dit, "load_lora_adapter"):
        dit.load_lora_adapter(state, prefix=PREFIX, adapter_name=adapter_name, metadata=metadata)
    else:
        inject_adapter_in_model(LoraConfig(**_strip(metadata)), dit, adapter_name)
        result = set_peft_model_state_dict(dit, _strip(state), adapter_name)
        unexpected = [key for key in result.unexpected_keys if ".lora_" in key]
        missing = [key for key in result.missing_keys if ".lora_" in key and f".{adapter_name}." in key]
        if unexpected or missing:
            raise CheckpointError(f"the LoRA at {path} does not fit this DiT: {len(unexpected)} tensors have no layer "
                                  f"({unexpected[:2]}), {len(missing)} adapter tensors were not loaded "
                                  f"({missing[:2]}); it was trained on another architecture")
    set_lora_scale(dit, scale, adapter_name)
    return dit


def _lora_layers(model: nn.Module):
    from peft.tuners.lora import LoraLayer

    return [module for module in model.modules() if isinstance(module, LoraLayer)]


def set_lora_scale(model: nn.Module, scale: float, adapter_name: str = ADAPTER_NAME) -> None:
    """Scale the adapter's update (scaling = scale * alpha / rank in every LoRA layer)."""
    for layer in _lora_layers(model):
        if adapter_name in layer.scaling:
            layer.set_scale(adapter_name, scale)


def set_lora_enabled(model: nn.Module, enabled: bool) -> None:
    """Switch every LoRA layer on or off (off: the model computes exactly its base outputs)."""
    for layer in _lora_layers(model):
        layer.enable_adapters(enabled)


def remove_lora(model: nn.Module) -> nn.Module:
    """Replace every LoRA layer by its base layer (the adapter is discarded)."""
    from diffusers.utils import recurse_remove_peft_layers

    recurse_remove_peft_layers(model)
    if hasattr(model, "peft_config"):
        del model.peft_config
    return model
