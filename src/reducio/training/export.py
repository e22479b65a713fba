"""A training checkpoint -> a `from_pretrained` model folder (EMA weights by default).

`reducio train export CHECKPOINT -o DIR` (cli/train.py) calls `export_checkpoint`. It rebuilds the
model from the architecture the run recorded (`effective.<task>_config` in the checkpoint's
config.json), loads the EMA weights (or the raw ones) strictly and saves config.json +
model.safetensors, so an intermediate checkpoint can be evaluated, sampled or assembled into a
pipeline like a finished run's `final/`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from reducio.errors import CheckpointError

# task -> (model file in checkpoints/*/models, key of the architecture in config["effective"])
_TASKS = {"vae": ("vae", "vae_config"), "dit": ("dit", "dit_config"), "stage1": ("stage1", "stage1_config")}


def _build(task: str, architecture: dict) -> torch.nn.Module:
    if task == "vae":
        from reducio.models.vae import ReducioVAE
        from reducio.models.vae.config import VAEConfig

        return ReducioVAE(VAEConfig.from_dict(architecture))
    if task == "dit":
        from reducio.models.dit import DiTConfig, ReducioDiT

        return ReducioDiT(DiTConfig.from_dict(architecture))
    from reducio.pipelines.stage1 import ReducioStage1Generator, Stage1Config

    return ReducioStage1Generator(Stage1Config.from_dict(architecture))


def _unwrap(state: dict, expected: set) -> dict:
    """Drop the training wrapper's prefix (stage 1 trains its model as `generator.`) when the keys
    match the model only without it."""
    if set(state) == expected:
        return state
    prefixes = {key.split(".", 1)[0] for key in state}
    if len(prefixes) == 1:
        prefix = prefixes.pop() + "."
        stripped = {key[len(prefix):]: value for key, value in state.items()}
        if set(stripped) == expected:
            return stripped
    return state


def export_checkpoint(checkpoint: str | Path, output: str | Path, *, ema: bool = True) -> dict:
    """Write the model of `checkpoint` (a `checkpoints/step-…` folder, or a run folder: its
    latest checkpoint) to `output`. Returns what was written (task, step, weights used)."""
    from safetensors.torch import load_file

    from reducio.training.checkpoint import STATE_FILE, resolve_checkpoint

    path = Path(checkpoint)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {str(path)!r} is not a folder; pass a run folder or one of "
                              "its checkpoints/step-XXXXXXXX folders")
    if not (path / STATE_FILE).is_file():
        path = resolve_checkpoint(path, None)
    config = json.loads((path / "config.json").read_text())
    state = json.loads((path / STATE_FILE).read_text())
    task = config.get("task")
    if task not in _TASKS:
        raise CheckpointError(f"checkpoint {path} is of task {task!r}; export knows {sorted(_TASKS)}")
    model_name, arch_key = _TASKS[task]
    architecture = (config.get("effective") or {}).get(arch_key)
    if not architecture:
        raise CheckpointError(f"checkpoint {path} does not record its architecture "
                              f"(config.json effective.{arch_key}); it was written by an older reducio")
    weights = path / "ema.safetensors"
    used = "ema"
    if not ema or not weights.is_file():
        weights, used = path / "models" / f"{model_name}.safetensors", "raw"
    if not weights.is_file():
        raise CheckpointError(f"checkpoint {path} has no {weights.relative_to(path)}")
    model = _build(task, architecture)
    try:
        model.load_state_dict(_unwrap(load_file(str(weights)), set(model.state_dict())), strict=True)
    except RuntimeError as error:
        raise CheckpointError(f"{weights} does not fit the recorded {task} architecture: {error}") from None
    model.eval().save_pretrained(output)
    return {"task": task, "step": state.get("step"), "weights": used, "checkpoint": str(path),
            "output": str(output)}
