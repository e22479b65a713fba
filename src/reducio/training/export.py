"""A training checkpoint -> a `from_pretrained` model folder (EMA weights by default).

`reducio train export CHECKPOINT -o DIR` (cli/train.py) calls `export_checkpoint`;
`load_checkpoint_model` is the same without the saving (`reducio eval vae` uses it). The
model is rebuilt from the architecture the run recorded (`effective.<task>_config` in the
checkpoint's config.json; VAE runs older than that record fall back to `model.preset` +
`model.overrides`), the EMA weights (or the raw ones) are loaded strictly, so an intermediate
checkpoint can be evaluated, sampled or assembled into a pipeline like a finished run's `final/`.
A LoRA run (`lora.rank` >= 1) is rebuilt as its base (`model.init`) with the checkpoint's adapter,
and exported as the adapter alone, as its `final/`. `dtype` ("fp16", "bf16", "fp32"; default: fp32,
as trained) is the dtype of the floating-point weights on disk; `from_pretrained` loads them back
as the model's dtype (fp32) as usual, so fp16 halves a folder's size for the cost of rounding.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from reducio.errors import CheckpointError
from reducio.loading.dtypes import resolve_dtype
from reducio.models.dit import DiTConfig, ReducioDiT
from reducio.models.vae import ReducioVAE, VAEConfig
from reducio.pipelines.stage1 import ImageReranker, ReducioStage1Generator, Stage1Config
from reducio.training.checkpoint import STATE_FILE, read_json, resolve_checkpoint
from reducio.training.config import DiTModelSection, LoRASection
from reducio.training.dit_objective import build_dit
from reducio.training.lora import add_lora, save_lora

# task -> (model file in checkpoints/*/models, key of the architecture in config["effective"])
_TASKS = {"vae": ("vae", "vae_config"), "dit": ("dit", "dit_config"), "stage1": ("stage1", "stage1_config"),
          "reranker": ("reranker", "reranker_config")}


def _build(task: str, architecture: dict) -> torch.nn.Module:
    if task == "vae":
        return ReducioVAE(VAEConfig.from_dict(architecture))
    if task == "dit":
        return ReducioDiT(DiTConfig.from_dict(architecture))
    if task == "reranker":
        return ImageReranker(**architecture)
    return ReducioStage1Generator(Stage1Config.from_dict(architecture))


def _unwrap(state: dict, expected: set) -> dict:
    """Drop the training wrapper's prefix (stage 1 trains its model as `generator.`, the reranker
    as `reranker.`) when the keys match the model only without it."""
    if set(state) == expected:
        return state
    prefixes = {key.split(".", 1)[0] for key in state}
    if len(prefixes) == 1:
        prefix = prefixes.pop() + "."
        stripped = {key[len(prefix):]: value for key, value in state.items()}
        if set(stripped) == expected:
            return stripped
    return state


def _architecture(task: str, config: dict, path: Path) -> dict:
    arch_key = _TASKS[task][1]
    architecture = (config.get("effective") or {}).get(arch_key)
    if architecture:
        return architecture
    model = config.get("model") or {}
    if task == "vae" and model.get("preset"):  # runs from before effective.vae_config existed
        return VAEConfig.preset(model["preset"]).replace(**(model.get("overrides") or {})).to_dict()
    raise CheckpointError(f"checkpoint {path} does not record its architecture "
                          f"(config.json effective.{arch_key}); it was written by an older reducio")


def load_checkpoint_model(checkpoint: str | Path, *, ema: bool = True) -> tuple[torch.nn.Module, dict]:
    """(model in eval mode, info) of `checkpoint`: a `checkpoints/step-…` folder, or a run folder
    (its latest checkpoint). info: task, step, weights ("ema" / "raw"), checkpoint path."""
    path = Path(checkpoint)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {str(path)!r} is not a folder; pass a run folder or one of "
                              "its checkpoints/step-XXXXXXXX folders")
    if not (path / STATE_FILE).is_file():
        path = resolve_checkpoint(path, None)
    config = read_json(path / "config.json")
    state = read_json(path / STATE_FILE)
    task = config.get("task")
    if task not in _TASKS:
        raise CheckpointError(f"checkpoint {path} is of task {task!r}; export knows {sorted(_TASKS)}")
    lora = config.get("lora") or {}
    if task == "dit" and lora.get("rank", 0) > 0:
        return _load_lora_checkpoint(path, config, state, ema=ema)
    architecture = _architecture(task, config, path)
    weights = path / "ema.safetensors"
    used = "ema"
    if not ema or not weights.is_file():
        weights, used = path / "models" / f"{_TASKS[task][0]}.safetensors", "raw"
    if not weights.is_file():
        raise CheckpointError(f"checkpoint {path} has no {weights.relative_to(path)}")
    model = _build(task, architecture)
    try:
        model.load_state_dict(_unwrap(load_file(str(weights)), set(model.state_dict())), strict=True)
    except RuntimeError as error:
        raise CheckpointError(f"{weights} does not fit the recorded {task} architecture: {error}") from None
    return model.eval(), {"task": task, "step": state.get("step"), "weights": used, "checkpoint": str(path)}


def _load_lora_checkpoint(path: Path, config: dict, state: dict, *, ema: bool) -> tuple[torch.nn.Module, dict]:
    """A LoRA run's checkpoint: its base (model.init) with the adapter of the checkpoint (EMA or raw)."""
    model = add_lora(build_dit(DiTModelSection.from_dict(config["model"])), LoRASection.from_dict(config["lora"]))
    weights, used = path / "ema.safetensors", "ema"
    if not ema or not weights.is_file():
        weights, used = path / "models" / "dit.safetensors", "raw"
    state_dict = load_file(str(weights))
    expected = set(model.state_dict())
    adapter = {name for name in expected if ".lora_" in name}
    # the EMA holds the adapter only; the raw weights hold the whole model (base and adapter)
    if not adapter <= set(state_dict) or not set(state_dict) <= expected:
        raise CheckpointError(f"{weights} does not fit a rank-{config['lora']['rank']} LoRA on {config['model']['init']}")
    model.load_state_dict(state_dict, strict=False)
    return model.eval(), {"task": "dit", "step": state.get("step"), "weights": used, "checkpoint": str(path),
                          "lora": True}


def export_checkpoint(checkpoint: str | Path, output: str | Path, *, ema: bool = True,
                      dtype: torch.dtype | str | None = None) -> dict:
    """Write the model of `checkpoint` (see `load_checkpoint_model`) to `output` as a
    `from_pretrained` folder, or, for a LoRA run, its adapter alone as `final/` holds it
    (reducio.training.lora.save_lora), its floating-point weights stored as `dtype` (None: as
    trained, fp32; integer buffers keep theirs). Returns what was written (task, step, weights
    used, dtype, paths)."""
    model, info = load_checkpoint_model(checkpoint, ema=ema)
    dtype = resolve_dtype(dtype)
    if dtype is not None:
        model = model.to(dtype)  # nn.Module.to(dtype) casts floating-point tensors only
    if info.get("lora"):
        save_lora(model, output)
    else:
        model.save_pretrained(output)
    stored = str(dtype or next((p.dtype for p in model.parameters()), torch.float32)).removeprefix("torch.")
    return {**info, "dtype": stored, "output": str(output)}
