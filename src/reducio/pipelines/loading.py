"""Saving and loading whole pipelines as diffusers-like folders.

    pipeline/
      model_index.json        the pipeline class and each component's library and class
      vae/                    config.json + model.safetensors (ReducioVAE), or reference.json
                              naming one ({"class": "ReducioVAE", "pretrained": "tiny"})
      dit/                    config.json + model.safetensors (ReducioDiT)
      stage1/                 text-to-video only: the built-in image generator (config.json +
                              model.safetensors), or reference.json naming a diffusers pipeline
      text_encoder/           reference.json: {"class": "MiniLMTextEncoder", ...} or a T5 path/id
      semantic_encoder/       reference.json (PatchPixelSemanticEncoder, CLIPSemanticEncoder)
      content_encoder/        reference.json (PooledRGBContentEncoder, SDVAEContentEncoder)
      scheduler/              scheduler_config.json (diffusers' save_pretrained)
      diffusion/config.json   the DiffusionConfig the DiT was trained with

model_index.json also holds the sampling "defaults" (GenerationDefaults). Large frozen encoders
are references, not copies (pipelines/components.py). The built-in default lives in the package
data folder `src/reducio/assets/pipeline-tiny/` with the same layout.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from reducio.diffusion import DiffusionConfig
from reducio.errors import CheckpointError, ConfigError, ModelNotFoundError
from reducio.hub import assets_root, resolve_dtype
from reducio.convert.saving import atomic_write_text
from reducio.pipelines.components import (
    describe_content_encoder,
    describe_semantic_encoder,
    describe_text_encoder,
    load_content_encoder,
    load_semantic_encoder,
    load_text_encoder,
)

MODEL_INDEX = "model_index.json"
REFERENCE = "reference.json"
FORMAT_VERSION = 1
BUILTIN_FOLDER = "pipeline-tiny"
BUILTIN_NAMES = ("builtin", "tiny", BUILTIN_FOLDER)
PIPELINE_CLASSES = ("ReducioImageToVideoPipeline", "ReducioTextToVideoPipeline")


class BuiltinPipelineMissingError(ModelNotFoundError):
    """The built-in generator's weights are not in the installed package (not trained yet)."""


def builtin_pipeline_dir() -> Path:
    return assets_root() / BUILTIN_FOLDER


def builtin_missing_message() -> str:
    return (
        f"the built-in generator weights are not installed: {builtin_pipeline_dir()} holds no "
        f"{MODEL_INDEX}. They are trained on the synthetic shapes world, not downloaded: train the "
        "tiny VAE, the tiny DiT and the stage-1 image generator (`reducio train vae`, `reducio "
        "train dit` on `reducio extract` shards, `reducio train stage1`), assemble them "
        "with ReducioTextToVideoPipeline.from_components(...).save_pretrained(DIR) "
        "(docs/generate.md, 'Building the built-in pipeline'), then pass --pipeline DIR (or copy "
        f"DIR to {builtin_pipeline_dir()}). To use your own model now, pass --pipeline PATH "
        "(a pipeline folder) and, without a stage-1 generator, --image PATH."
    )


# ----------------------------------------------------------------------------- save
def save_pipeline(pipe: Any, directory: str | os.PathLike, *,
                  references: dict[str, dict] | None = None) -> Path:
    """Write `pipe` (image-to-video or text-to-video) as a folder; returns the folder.

    `references` overrides the reference written for a component ("text_encoder",
    "semantic_encoder", "content_encoder", "stage1"), for encoders built by hand whose source
    cannot be read off the model; `references["vae"] = {"class": "ReducioVAE", "pretrained":
    NAME}` names the VAE (a built-in such as "tiny", a hub id or a path) instead of copying its
    weights (the built-in pipeline does this: one copy of the tiny VAE in the package).
    """
    from reducio.pipelines.stage1 import ReducioStage1Generator

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    references = dict(references or {})
    i2v = getattr(pipe, "image_pipeline", pipe)
    index: dict[str, Any] = {"_class_name": type(pipe).__name__, "_reducio_format": FORMAT_VERSION}

    vae_reference = references.pop("vae", None)
    if vae_reference is not None:
        # {"class": "ReducioVAE", "pretrained": NAME}: the VAE by name (a built-in such as "tiny",
        # a hub id or a path) instead of a copy of its weights
        if vae_reference.get("class") != "ReducioVAE" or not vae_reference.get("pretrained"):
            raise ConfigError(f"a VAE reference needs {{'class': 'ReducioVAE', 'pretrained': NAME}}, "
                              f"got {vae_reference!r}")
        _write_json(directory / "vae" / REFERENCE, vae_reference)
    else:
        i2v.vae.save_pretrained(directory / "vae")
    index["vae"] = ["reducio", "ReducioVAE"]
    i2v.dit.save_pretrained(directory / "dit")
    index["dit"] = ["reducio", "ReducioDiT"]
    for name, encoder, describe in (
            ("text_encoder", i2v.text_encoder, describe_text_encoder),
            ("semantic_encoder", i2v.semantic_encoder, describe_semantic_encoder),
            ("content_encoder", i2v.content_encoder, describe_content_encoder)):
        if encoder is None:
            index[name] = [None, None]
            continue
        reference = references.pop(name, None) or describe(encoder)
        _write_json(directory / name / REFERENCE, reference)
        index[name] = ["reducio", reference["class"]]
    i2v.scheduler.save_pretrained(directory / "scheduler")
    index["scheduler"] = ["diffusers", type(i2v.scheduler).__name__]
    i2v.diffusion_config.to_json(_mkdir(directory / "diffusion") / "config.json")
    index["diffusion"] = ["reducio", "DiffusionConfig"]

    stage1 = getattr(pipe, "stage1", None)
    if stage1 is not None:
        if isinstance(stage1, ReducioStage1Generator):
            stage1.save_pretrained(directory / "stage1")
            index["stage1"] = ["reducio", "ReducioStage1Generator"]
        else:
            reference = references.pop("stage1", None) or stage1.reference()
            _write_json(directory / "stage1" / REFERENCE, reference)
            index["stage1"] = ["diffusers", reference["class"]]
    if references:
        raise ConfigError(f"references for unknown or absent components {sorted(references)}")
    index["defaults"] = i2v.defaults.to_dict()
    # Written last: a folder without model_index.json is visibly incomplete.
    _write_json(directory / MODEL_INDEX, index)
    return directory


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_json(path: Path, data: dict) -> None:
    _mkdir(path.parent)
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


# ----------------------------------------------------------------------------- load
def resolve_pipeline_dir(path: str | os.PathLike | None) -> Path:
    """The folder of `path`; None / "builtin" = the packaged default (clear error if absent)."""
    if path is None or str(path) in BUILTIN_NAMES:
        folder = builtin_pipeline_dir()
        if not (folder / MODEL_INDEX).is_file():
            raise BuiltinPipelineMissingError(builtin_missing_message())
        return folder
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise ModelNotFoundError(
            f"no pipeline folder at {str(path)!r}: pass a folder written by save_pretrained "
            f"(with {MODEL_INDEX}); for a hub repo download it first, e.g. "
            f"`hf download ORG/NAME --local-dir DIR`, or omit it to use the built-in default")
    if not (folder / MODEL_INDEX).is_file():
        found = sorted(p.name for p in folder.iterdir())[:12]
        raise ModelNotFoundError(f"{folder} is not a pipeline folder: {MODEL_INDEX} is missing "
                                 f"(found {found or 'nothing'}); write one with save_pretrained")
    return folder


def read_model_index(folder: Path) -> dict[str, Any]:
    try:
        index = json.loads((folder / MODEL_INDEX).read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{folder / MODEL_INDEX} is not valid JSON: {error}") from error
    version = index.get("_reducio_format", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f"{folder} was written by a newer reducio (pipeline format {version} > "
                              f"{FORMAT_VERSION}); upgrade reducio")
    if index.get("_class_name") not in PIPELINE_CLASSES:
        raise CheckpointError(f"{folder / MODEL_INDEX}: unknown _class_name "
                              f"{index.get('_class_name')!r}; valid: {PIPELINE_CLASSES}")
    return index


def load_pipeline(path: str | os.PathLike | None = None, *, device: torch.device | str | None = None,
                  torch_dtype: torch.dtype | str | None = None, local_files_only: bool = False):
    """The pipeline a folder holds: ReducioTextToVideoPipeline when it has a stage 1, else
    ReducioImageToVideoPipeline. `torch_dtype` casts the VAE, DiT, stage 1 and encoders."""
    from reducio.models.dit import ReducioDiT
    from reducio.models.vae import ReducioVAE
    from reducio.pipelines.image_to_video import GenerationDefaults, ReducioImageToVideoPipeline
    from reducio.pipelines.text_to_video import ReducioTextToVideoPipeline, load_stage1

    folder = resolve_pipeline_dir(path)
    index = read_model_index(folder)
    dtype = resolve_dtype(torch_dtype)
    for name in ("vae", "dit", "text_encoder", "scheduler", "diffusion"):
        if name not in index:
            raise CheckpointError(f"{folder / MODEL_INDEX} names no {name!r} component")
    vae_source = folder / "vae"
    if (vae_source / REFERENCE).is_file():   # a VAE by name: {"class": "ReducioVAE", "pretrained": ...}
        vae_source = _reference(folder, "vae").get("pretrained")
        if not vae_source:
            raise CheckpointError(f"{folder / 'vae' / REFERENCE} names no 'pretrained' VAE")
    vae = ReducioVAE.from_pretrained(vae_source, torch_dtype=dtype, device=device)
    dit = ReducioDiT.from_pretrained(folder / "dit", torch_dtype=dtype, device=device)
    place = dict(device=device, torch_dtype=dtype, local_files_only=local_files_only)
    text_encoder = load_text_encoder(_reference(folder, "text_encoder"), **place)
    semantic = (load_semantic_encoder(_reference(folder, "semantic_encoder"), **place)
                if index.get("semantic_encoder", [None])[0] else None)
    content = (load_content_encoder(_reference(folder, "content_encoder"), **place)
               if index.get("content_encoder", [None])[0] else None)
    pipe = ReducioImageToVideoPipeline(
        vae, dit, text_encoder, semantic, content, scheduler=_load_scheduler(folder, index),
        diffusion_config=DiffusionConfig.from_json(folder / "diffusion" / "config.json"),
        defaults=GenerationDefaults.from_dict(index.get("defaults", {})))
    pipe.to(device=device, dtype=dtype)
    if index["_class_name"] == "ReducioImageToVideoPipeline":
        return pipe
    if "stage1" not in index:
        raise CheckpointError(f"{folder / MODEL_INDEX} is a text-to-video pipeline without a "
                              "'stage1' component")
    stage1 = load_stage1(folder / "stage1", index["stage1"], text_encoder=text_encoder, **place)
    return ReducioTextToVideoPipeline(pipe, stage1)


def _reference(folder: Path, name: str) -> dict:
    path = folder / name / REFERENCE
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: {name} needs a reference (written by save_pretrained)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} is not valid JSON: {error}") from error


def _load_scheduler(folder: Path, index: dict[str, Any]):
    import diffusers
    from diffusers.schedulers.scheduling_utils import SchedulerMixin

    library, name = index["scheduler"]
    cls = getattr(diffusers, str(name), None)
    if library != "diffusers" or not (isinstance(cls, type) and issubclass(cls, SchedulerMixin)):
        raise CheckpointError(f"{folder / MODEL_INDEX}: scheduler {index['scheduler']!r} is not a "
                              "diffusers scheduler class")
    return cls.from_pretrained(str(folder), subfolder="scheduler")


__all__ = [
    "BuiltinPipelineMissingError",
    "MODEL_INDEX",
    "builtin_pipeline_dir",
    "load_pipeline",
    "read_model_index",
    "resolve_pipeline_dir",
    "save_pipeline",
]
