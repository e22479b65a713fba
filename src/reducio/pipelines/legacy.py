"""Reading pipeline folders written before the pipelines were diffusers pipelines.

That layout (model_index.json with "_reducio_format": 1) held vae/ and dit/ as config.json +
model.safetensors (or vae/reference.json naming a built-in VAE), the encoders as reference.json
files, diffusion/config.json, the sampling "defaults" in model_index.json and, for text-to-video,
stage1/ as one ReducioStage1Generator. Loading it gives the same weights, settings and outputs;
`reducio convert OLD -o NEW` writes it in diffusers' layout.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import diffusers
import torch

from reducio.diffusion import DiffusionConfig
from reducio.errors import CheckpointError
from reducio.models.dit import ReducioDiT
from reducio.models.vae import ReducioVAE
from reducio.pipelines.components import load_content_encoder, load_semantic_encoder, load_text_encoder
from reducio.pipelines.stage1 import ReducioStage1Generator, stage1_components

FORMAT_VERSION = 1
REFERENCE = "reference.json"


def load_legacy_pipeline(folder: Path, cls: type, *, torch_dtype: torch.dtype | None = None,
                         **components: Any):
    """A `cls` pipeline (image- or text-to-video) from an old-layout folder. `components` given
    by name (vae=..., text_encoder=...) are used instead of the folder's."""
    index = json.loads((folder / "model_index.json").read_text())
    version = index.get("_reducio_format")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f"{folder} was written in pipeline format {version!r}; this reducio "
                              f"reads format {FORMAT_VERSION} and diffusers' layout; upgrade reducio")
    for name in ("vae", "dit", "text_encoder", "scheduler", "diffusion"):
        if name not in index:
            raise CheckpointError(f"{folder / 'model_index.json'} names no {name!r} component")
    sources: dict[str, str] = {}
    parts: dict[str, Any] = {}
    if components.get("vae") is None:
        if (folder / "vae" / REFERENCE).is_file():
            sources["vae"] = _reference(folder, "vae")["pretrained"]
            parts["vae"] = ReducioVAE.from_pretrained(sources["vae"])
        else:
            parts["vae"] = ReducioVAE.from_pretrained(folder / "vae")
    parts["transformer"] = ReducioDiT.from_pretrained(folder / "dit")
    text_reference = _reference(folder, "text_encoder")
    if text_reference.get("class") == "MiniLMTextEncoder":
        sources["text_encoder"] = sources["tokenizer"] = "minilm"
    if components.get("text_encoder") is None or components.get("tokenizer") is None:
        text = load_text_encoder(text_reference)
        parts["text_encoder"], parts["tokenizer"] = text.model, text.tokenizer
        parts["max_sequence_length"] = text.max_length
    else:
        parts["max_sequence_length"] = text_reference.get("max_length", 64)
    for name, load, attr in (("semantic_encoder", load_semantic_encoder, "model"),
                             ("content_encoder", load_content_encoder, "vae")):
        if not (index.get(name) or [None])[0]:
            continue
        reference = _reference(folder, name)
        if reference["class"] in ("PatchPixelSemanticEncoder", "PooledRGBContentEncoder"):
            parts[f"{name}_config"] = reference
        elif components.get(name) is None:
            parts[name] = getattr(load(reference), attr)
    library, scheduler_class = index["scheduler"]
    scheduler_cls = getattr(diffusers, str(scheduler_class), None)
    if library != "diffusers" or scheduler_cls is None:
        raise CheckpointError(f"{folder / 'model_index.json'}: scheduler {index['scheduler']!r} is "
                              "not a diffusers scheduler class")
    parts["scheduler"] = scheduler_cls.from_pretrained(str(folder), subfolder="scheduler")
    parts["diffusion_config"] = DiffusionConfig.from_json(folder / "diffusion" / "config.json").to_dict()
    defaults = index.get("defaults", {})
    for key in ("num_inference_steps", "guidance_scale", "image_guidance_scale", "fps"):
        if key in defaults:
            parts[f"default_{key}"] = defaults[key]
    parts["component_sources"] = sources or None
    if "image_transformer" in _init_names(cls):  # a text-to-video pipeline: it takes stage 1
        stage1 = index.get("stage1")
        if stage1 is None:
            raise CheckpointError(f"{folder} is an image-to-video pipeline (no stage-1 generator); "
                                  "load it with ReducioImageToVideoPipeline")
        if list(stage1) != ["reducio", "ReducioStage1Generator"]:
            raise CheckpointError(
                f"{folder}: stage 1 is {stage1!r}, a diffusers text-to-image pipeline by reference; "
                "run that pipeline yourself and pass its image to ReducioImageToVideoPipeline, "
                "loaded from this folder")
        parts.update(stage1_components(ReducioStage1Generator.from_pretrained(folder / "stage1")))
    parts.update({k: v for k, v in components.items() if k in _init_names(cls)})
    pipe = cls(**parts)
    if torch_dtype is not None:
        pipe.to(dtype=torch_dtype)
    return pipe


def _init_names(cls: type) -> set[str]:
    return set(inspect.signature(cls.__init__).parameters) - {"self"}


def _reference(folder: Path, name: str) -> dict:
    path = folder / name / REFERENCE
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: {name} needs a reference")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} is not valid JSON: {error}") from None


__all__ = ["load_legacy_pipeline"]
