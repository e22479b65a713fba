"""peft LoRA on a pipeline's Reducio-DiT, the way diffusers' video pipelines do it.

    pipe.load_lora_weights("runs/dit-lora/final", adapter_name="diagonal")
    pipe.set_adapters(["diagonal"], [0.8])
    pipe.fuse_lora()

Modelled on diffusers' `LTXVideoLoraLoaderMixin`: the adapter lives on `pipe.transformer` (a
`ReducioDiT`, itself a `PeftAdapterMixin`), in diffusers' LoRA file format
(`pytorch_lora_weights.safetensors`, keys `transformer.<module>.lora_A.weight`, the peft config
in the `lora_adapter_metadata` header), which `reducio train dit --set lora.rank=R` writes.
Unlike diffusers' loaders, pickled LoRA files (`.bin`) are refused: an untrusted file never runs code.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
from diffusers.loaders.lora_base import LoraBaseMixin, _fetch_state_dict

from reducio.errors import CheckpointError, ModelNotFoundError

TRANSFORMER_NAME = "transformer"
LORA_WEIGHTS = "pytorch_lora_weights.safetensors"


class ReducioLoraLoaderMixin(LoraBaseMixin):
    """`load_lora_weights`, `set_adapters`, `fuse_lora`, `unfuse_lora`, `unload_lora_weights`,
    `disable_lora` / `enable_lora` for the pipeline's `transformer`."""

    _lora_loadable_modules = [TRANSFORMER_NAME]
    transformer_name = TRANSFORMER_NAME

    @classmethod
    def lora_state_dict(cls, pretrained_model_name_or_path_or_dict: str | os.PathLike | dict,
                        **kwargs):
        """The LoRA tensors (and, with return_lora_metadata=True, the adapter metadata) of a
        folder holding `pytorch_lora_weights.safetensors`, a `.safetensors` file, a Hub id or an
        in-memory state dict."""
        return_metadata = kwargs.pop("return_lora_metadata", False)
        source = pretrained_model_name_or_path_or_dict
        weight_name = kwargs.pop("weight_name", None)
        if not isinstance(source, dict):
            source = os.fspath(source)
            path = Path(source).expanduser()
            if path.is_file():
                source, weight_name = str(path.parent), path.name
            elif path.is_dir():
                source = str(path)
                if weight_name is None and (path / LORA_WEIGHTS).is_file():
                    weight_name = LORA_WEIGHTS
            elif source.startswith((".", "/", "~")) or path.suffix:
                raise ModelNotFoundError(f"no such LoRA file or folder: {source!r}")
            if weight_name is not None and not weight_name.endswith(".safetensors"):
                raise CheckpointError(f"LoRA weights must be a .safetensors file, got {weight_name!r}: "
                                      "pickled files are refused because loading them can run code")
        try:
            state_dict, metadata = _fetch_state_dict(
                pretrained_model_name_or_path_or_dict=source, weight_name=weight_name,
                use_safetensors=True, local_files_only=kwargs.pop("local_files_only", None),
                cache_dir=kwargs.pop("cache_dir", None), force_download=kwargs.pop("force_download", False),
                proxies=kwargs.pop("proxies", None), token=kwargs.pop("token", None),
                revision=kwargs.pop("revision", None), subfolder=kwargs.pop("subfolder", None),
                user_agent={"file_type": "attn_procs_weights", "framework": "pytorch"},
                allow_pickle=False)
        except (OSError, ValueError) as error:
            raise ModelNotFoundError(f"cannot read LoRA weights from {source!r}: "
                                     f"{str(error).splitlines()[0] if str(error) else type(error).__name__}; "
                                     f"expected a folder with {LORA_WEIGHTS} or a .safetensors file") from None
        not_lora = [k for k in state_dict if "lora" not in k]
        if not_lora:
            raise CheckpointError(f"{source!r} is not a LoRA file: {len(not_lora)} tensor name(s) without "
                                  f"'lora', e.g. {not_lora[:3]}")
        return (state_dict, metadata) if return_metadata else state_dict

    def load_lora_weights(self, pretrained_model_name_or_path_or_dict: str | os.PathLike | dict,
                          adapter_name: str | None = None, hotswap: bool = False, **kwargs) -> None:
        """Add the LoRA in `pretrained_model_name_or_path_or_dict` to `self.transformer`."""
        if isinstance(pretrained_model_name_or_path_or_dict, dict):
            pretrained_model_name_or_path_or_dict = dict(pretrained_model_name_or_path_or_dict)
        low_cpu_mem_usage = kwargs.pop("low_cpu_mem_usage", False)
        state_dict, metadata = self.lora_state_dict(pretrained_model_name_or_path_or_dict,
                                                    return_lora_metadata=True, **kwargs)
        self.load_lora_into_transformer(state_dict, transformer=self.transformer,
                                        adapter_name=adapter_name, metadata=metadata, _pipeline=self,
                                        low_cpu_mem_usage=low_cpu_mem_usage, hotswap=hotswap)

    @classmethod
    def load_lora_into_transformer(cls, state_dict, transformer, adapter_name=None, _pipeline=None,
                                   low_cpu_mem_usage=False, hotswap: bool = False, metadata=None):
        """peft's adapter into the DiT (diffusers' `PeftAdapterMixin.load_lora_adapter`)."""
        transformer.load_lora_adapter(state_dict, network_alphas=None, adapter_name=adapter_name,
                                      metadata=metadata, _pipeline=_pipeline,
                                      low_cpu_mem_usage=low_cpu_mem_usage, hotswap=hotswap)

    @classmethod
    def save_lora_weights(cls, save_directory: str | os.PathLike,
                          transformer_lora_layers: dict[str, torch.Tensor] | None = None,
                          is_main_process: bool = True, weight_name: str | None = None,
                          save_function: Callable | None = None, safe_serialization: bool = True,
                          transformer_lora_adapter_metadata: dict | None = None) -> None:
        """Write `transformer_lora_layers` (peft's `get_peft_model_state_dict` of the DiT) in
        diffusers' LoRA format."""
        if not transformer_lora_layers:
            raise CheckpointError("save_lora_weights needs transformer_lora_layers (the DiT's LoRA tensors)")
        cls._save_lora_weights(
            save_directory=save_directory, lora_layers={cls.transformer_name: transformer_lora_layers},
            lora_metadata={cls.transformer_name: transformer_lora_adapter_metadata},
            is_main_process=is_main_process, weight_name=weight_name, save_function=save_function,
            safe_serialization=safe_serialization)

    def fuse_lora(self, components: list[str] = [TRANSFORMER_NAME], lora_scale: float = 1.0,  # noqa: B006
                  safe_fusing: bool = False, adapter_names: list[str] | None = None, **kwargs) -> None:
        """Merge the LoRA into the DiT's weights (faster sampling; `unfuse_lora` undoes it)."""
        super().fuse_lora(components=components, lora_scale=lora_scale, safe_fusing=safe_fusing,
                          adapter_names=adapter_names, **kwargs)

    def unfuse_lora(self, components: list[str] = [TRANSFORMER_NAME], **kwargs) -> None:  # noqa: B006
        super().unfuse_lora(components=components, **kwargs)


def parse_lora_argument(text: str) -> tuple[str, float]:
    """`PATH[:SCALE]` (the CLI's --lora) -> (path, scale); a bare path has scale 1."""
    path, sep, scale = text.rpartition(":")
    if not sep or not path:
        return text, 1.0
    try:
        value = float(scale)
    except ValueError:
        return text, 1.0  # a ':' inside the path itself
    if value != value or value in (float("inf"), float("-inf")):
        raise CheckpointError(f"--lora {text!r}: the scale must be a finite number, got {scale!r}")
    return path, value
