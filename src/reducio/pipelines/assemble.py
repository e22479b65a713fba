"""A text-to-video pipeline folder from its parts: what `reducio assemble` (cli/assemble.py) runs.

    assemble_text_to_video("out", stage1="exports/stage1", transformer="exports/dit",
                           shapes_world_prompts=True, weights_dtype="fp16")
    assemble_text_to_video("out", pipeline="out", transformer="exports/dit-2")   # swap one part

The parts: a stage-1 generator folder (`reducio train export` of a `stage1` run, or a pipeline
folder: its stage 1), a video DiT folder (of a `dit` run), optionally stage 1's reranker (a
`reranker` run's final/ or export), a VAE and the text encoder. With `pipeline=` an existing
pipeline folder is the starting point: each part not given is kept as it is there, with its
settings. The pipeline's constructor checks that the parts fit (pipelines/checks.py); a DiT that
does not take the VAE's latents is refused first, naming both (models/compatibility.py).

Components that have a source of their own are named in model_index.json's `component_sources`
instead of being copied (base.py, `_load_source`): the packaged MiniLM text encoder and its
tokenizer, and a VAE given by name (the built-in "tiny", "ft4", a Hub id). A VAE given as a
local path is copied.

The folder is written under a temporary name next to `output` and renamed into place once
complete, so a failure leaves an existing `output` as it was, and `output` may be the `pipeline`
folder itself. Files that are not components (a metadata.json, a README) are carried over from
`pipeline` and from the `output` folder being replaced (`pipeline`'s first).
"""

from __future__ import annotations

import math
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import torch
from diffusers.configuration_utils import FrozenDict
from safetensors import safe_open

from reducio.conditioning import MiniLMTextEncoder, PatchPixelSemanticEncoder, PooledRGBContentEncoder
from reducio.diffusion import DiffusionConfig, make_scheduler
from reducio.errors import ConfigError, ModelNotFoundError, OutputPathError
from reducio.loading.dtypes import resolve_dtype
from reducio.loading.sources import builtin_folder
from reducio.models.compatibility import check_dit_fits_vae
from reducio.models.dit import ReducioDiT
from reducio.models.vae import ReducioVAE
from reducio.pipelines.base import BUILTIN_NAMES, MODEL_INDEX, _read_model_index, has_stage1
from reducio.pipelines.image_to_video import ReducioImageToVideoPipeline
from reducio.pipelines.stage1 import ImageReranker, ReducioStage1Generator, stage1_components
from reducio.pipelines.text_to_video import ReducioTextToVideoPipeline

# Text encoders a pipeline can be assembled with: what `component_sources` can load back.
TEXT_ENCODERS = ("minilm",)
# The default number of DiT steps of a pipeline assembled without `pipeline=`, the built-in's:
# its joint accuracy is within 3 points of 50 steps' at 8 steps already (docs/generate.md).
DEFAULT_STEPS = 25
VIDEO_SETTINGS = ("diffusion_config", "semantic_encoder_config", "content_encoder_config",
                  "max_sequence_length", "clean_caption", "default_num_inference_steps",
                  "default_guidance_scale", "default_image_guidance_scale", "default_fps",
                  "component_sources", "shapes_world_prompts")
STAGE1_PARTS = ("image_transformer", "image_scheduler", "image_refiner", "image_reranker")
STAGE1_SETTINGS = ("stage1_diffusion_config", "stage1_image_size", "stage1_num_inference_steps",
                   "stage1_guidance_scale", "stage1_num_candidates")
_SAFETENSORS_FLOATS = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32,
                       "F64": torch.float64}


def assemble_text_to_video(
    output: str | os.PathLike, *,
    pipeline: str | os.PathLike | None = None,
    stage1: str | os.PathLike | None = None,
    stage1_guidance: float | None = None,
    stage1_sampler: str | None = None,
    transformer: str | os.PathLike | None = None,
    reranker: str | os.PathLike | None = None,
    stage1_candidates: int | None = None,
    vae: str | os.PathLike | None = None,
    text_encoder: str | None = None,
    steps: int | None = None,
    shapes_world_prompts: bool | None = None,
    weights_dtype: torch.dtype | str | None = None,
) -> dict[str, Any]:
    """Write a `ReducioTextToVideoPipeline` folder to `output` from parts (module docstring).

    Args:
        output: the pipeline folder to write; an existing pipeline folder (or an empty one) is
            replaced once the new one is complete.
        pipeline: an existing pipeline folder (or "tiny", the built-in) whose parts and settings
            are kept where no other is given.
        stage1: a stage-1 generator folder or a pipeline folder holding one (its reranker, if
            any, comes with it). `stage1_guidance` / `stage1_sampler` override its default
            guidance scale / sampler ("euler", "euler-stochastic", "dpm" for flow objectives).
        transformer: a ReducioDiT folder (the video stage). A new DiT gets the default diffusion
            process and sampler of its prediction type, unless `pipeline` has one for that type.
        reranker: an ImageReranker folder for stage 1; `stage1_candidates` is the pipeline's
            default number of stage-1 candidates (> 1 needs a reranker; 1 = reranking off).
        vae: a ReducioVAE name (named: "tiny" by default) or local folder (copied).
        text_encoder: "minilm" (the packaged all-MiniLM-L6-v2, named), the default without
            `pipeline`.
        steps: the video stage's default sampler steps (25 without `pipeline`).
        shapes_world_prompts: whether the pipeline normalises prompts to the synthetic shapes
            world's captions (True for a model trained on that world; base.py `_prompts`).
        weights_dtype: "fp16", "bf16" or "fp32": the floating-point weights on disk (loaded back
            as fp32). Default: the dtype `pipeline` stores its weights in (fp32 where it mixes
            several), else fp32.

    Returns: {"output", "class", "weights_dtype", "parts": {component: where it came from},
    "component_sources"}.
    Raises: ConfigError (parts that do not fit, bad settings), ModelNotFoundError (a part's
    folder missing), CheckpointError (an unreadable pipeline folder), OutputPathError.
    """
    output = Path(output).expanduser()
    _check_output(output)
    base_folder = _base_folder(pipeline)
    base = _load_base(base_folder) if base_folder is not None else None
    config = dict(base.config) if base is not None else {}
    components = dict(base.components) if base is not None else {}
    origin = {name: f"{pipeline}" for name, module in components.items() if module is not None}

    settings: dict[str, Any] = {key: config[key] for key in VIDEO_SETTINGS if key in config}
    parts: dict[str, Any] = {name: components.get(name) for name in
                             ("vae", "transformer", "scheduler", "text_encoder", "tokenizer",
                              "semantic_encoder", "content_encoder")}
    sources = dict(settings.get("component_sources") or {})
    if base is None:
        parts.update(semantic_encoder=PatchPixelSemanticEncoder(), content_encoder=PooledRGBContentEncoder())
        settings.update(default_num_inference_steps=DEFAULT_STEPS, shapes_world_prompts=False)

    # Stage 1: the image generator, its sampler, its reranker
    if stage1 is not None:
        generator = ReducioStage1Generator.from_pretrained(_existing(stage1, "stage-1 generator (stage1)"))
        stage1_parts = stage1_components(generator)
        origin.update({name: str(stage1) for name in STAGE1_PARTS if stage1_parts.get(name) is not None})
        minilm = text_encoder == "minilm" or (text_encoder is None and (
            parts["text_encoder"] is None or sources.get("text_encoder") == "minilm"))
        if minilm and generator.config.text_encoder != "minilm":
            raise ConfigError(f"the stage-1 generator {stage1} was trained with the text encoder "
                              f"{generator.config.text_encoder!r}, not the packaged MiniLM the pipeline "
                              f"would hold; assemble packs only {TEXT_ENCODERS}")
    elif isinstance(base, ReducioTextToVideoPipeline):
        stage1_parts = {name: components.get(name) for name in STAGE1_PARTS}
        stage1_parts.update({key: config[key] for key in STAGE1_SETTINGS if key in config})
    else:
        raise ConfigError("a text-to-video pipeline needs a stage-1 image generator: pass stage1= "
                          "(`reducio assemble --stage1 DIR`, a `reducio train export` of a stage1 run)"
                          + (f"; {pipeline} has none" if base is not None else ""))
    if stage1_guidance is not None:
        if isinstance(stage1_guidance, bool) or not isinstance(stage1_guidance, (int, float)) \
                or not math.isfinite(stage1_guidance) or stage1_guidance < 0:
            raise ConfigError(f"stage1_guidance must be a finite number >= 0, got {stage1_guidance!r}")
        stage1_parts["stage1_guidance_scale"] = float(stage1_guidance)
    if stage1_sampler is not None:
        diffusion = DiffusionConfig.from_dict(dict(stage1_parts["stage1_diffusion_config"]))
        stage1_parts["image_scheduler"] = make_scheduler(diffusion, stage1_sampler)
    if reranker is not None:
        matcher = ImageReranker.from_pretrained(_existing(reranker, "reranker", "config.json"))
        width = stage1_parts["image_transformer"].arch.text_dim
        if matcher.config.text_dim != width:
            raise ConfigError(f"the reranker {reranker} reads {matcher.config.text_dim}-d text tokens but "
                              f"stage 1's text encoder gives {width}-d")
        stage1_parts["image_reranker"] = matcher
        origin["image_reranker"] = str(reranker)
    if stage1_candidates is not None:
        if isinstance(stage1_candidates, bool) or not isinstance(stage1_candidates, int) or stage1_candidates < 1:
            raise ConfigError(f"stage1_candidates must be an integer >= 1, got {stage1_candidates!r}")
        if stage1_candidates > 1 and stage1_parts.get("image_reranker") is None:
            raise ConfigError(f"stage1_candidates {stage1_candidates} needs a stage-1 reranker to choose "
                              "among the candidates; pass reranker= (--reranker DIR) or use 1")
        stage1_parts["stage1_num_candidates"] = stage1_candidates

    # The video stage: the DiT and its diffusion process, the VAE, the text encoder
    if transformer is not None:
        dit = ReducioDiT.from_pretrained(_existing(transformer, "transformer", "config.json"))
        parts["transformer"] = dit
        origin["transformer"] = str(transformer)
        kept = settings.get("diffusion_config")
        if kept is None or parts["scheduler"] is None or \
                DiffusionConfig.from_dict(dict(kept)).objective != dit.arch.prediction_type:
            diffusion = DiffusionConfig.for_prediction(dit.arch.prediction_type)
            settings["diffusion_config"] = diffusion.to_dict()
            parts["scheduler"] = make_scheduler(diffusion, None)
    elif parts["transformer"] is None:
        raise ConfigError("a text-to-video pipeline needs the video DiT: pass transformer= "
                          "(`reducio assemble --transformer DIR`, a `reducio train export` of a dit run)")
    if vae is not None or parts["vae"] is None:
        name = os.fspath(vae) if vae is not None else "tiny"
        parts["vae"] = ReducioVAE.from_pretrained(name)
        origin["vae"] = name
        if builtin_folder("vae", name) is None and Path(name).expanduser().exists():
            sources.pop("vae", None)        # a local VAE is copied into the pipeline
        else:
            sources["vae"] = name
    try:
        check_dit_fits_vae(parts["transformer"].arch, parts["vae"].arch, where=origin.get("vae", ""))
    except ConfigError as error:
        raise ConfigError(f"the transformer from {origin.get('transformer')} does not fit the VAE: "
                          f"{error}") from None
    if text_encoder is not None or parts["text_encoder"] is None:
        name = text_encoder if text_encoder is not None else "minilm"
        if name not in TEXT_ENCODERS:
            raise ConfigError(f"text encoder {name!r} cannot be assembled; valid: {TEXT_ENCODERS} "
                              "(the packaged all-MiniLM-L6-v2)")
        encoder = MiniLMTextEncoder.load()
        parts.update(text_encoder=encoder.model, tokenizer=encoder.tokenizer)
        sources.update(text_encoder=name, tokenizer=name)
        origin.update(text_encoder=name, tokenizer=name)

    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ConfigError(f"steps must be an integer >= 1, got {steps!r}")
        settings["default_num_inference_steps"] = steps
    if shapes_world_prompts is not None:
        settings["shapes_world_prompts"] = bool(shapes_world_prompts)
    settings["component_sources"] = dict(sorted(sources.items())) or None
    dtype = _weights_dtype(weights_dtype, base_folder)

    pipe = ReducioTextToVideoPipeline(**parts, **stage1_parts, **settings)  # checks the parts fit
    for module in pipe.components.values():
        _for_saving(module, dtype)
    carried = [path for folder in (base_folder, output) if folder is not None
               and (folder / MODEL_INDEX).is_file() for path in _extra_files(folder)]
    _write_swapped(output, lambda folder: _save(pipe, folder, sources, carried))
    return {"output": str(output), "class": type(pipe).__name__,
            "weights_dtype": str(dtype).removeprefix("torch."),
            "parts": {name: origin.get(name, "new") for name, module in pipe.components.items()
                      if module is not None},
            "component_sources": dict(sources)}


# ----------------------------------------------------------------------------- helpers
def _check_output(output: Path) -> None:
    if output.exists() and not output.is_dir():
        raise OutputPathError(f"output {output} is a file; the pipeline is a folder: pass a folder path")
    if output.is_dir() and any(output.iterdir()) and not (output / MODEL_INDEX).is_file():
        raise OutputPathError(f"output {output} is a folder that holds no pipeline ({MODEL_INDEX}); it "
                              "would be replaced: pass a new folder, an empty one or a pipeline folder")


def _base_folder(pipeline: str | os.PathLike | None) -> Path | None:
    if pipeline is None:
        return None
    name = os.fspath(pipeline)
    folder = builtin_folder("pipeline", "tiny") if name in BUILTIN_NAMES else Path(name).expanduser()
    if folder is None or not folder.is_dir():
        raise ModelNotFoundError(f"pipeline {name!r} is not a folder; pass a pipeline folder written by "
                                 "save_pretrained (or `reducio assemble`), or 'tiny' for the built-in")
    return folder


def _load_base(folder: Path) -> ReducioImageToVideoPipeline | ReducioTextToVideoPipeline:
    _read_model_index(folder)           # CheckpointError naming the folder when it is no pipeline
    cls = ReducioTextToVideoPipeline if has_stage1(folder) else ReducioImageToVideoPipeline
    return cls.from_pretrained(folder)


def _existing(path: str | os.PathLike, what: str, required: str | None = None) -> Path:
    """`path` as a folder (holding `required`), else ModelNotFoundError naming `what`."""
    folder = Path(path).expanduser()
    if not folder.is_dir() or (required is not None and not (folder / required).is_file()):
        found = sorted(p.name for p in folder.iterdir())[:12] if folder.is_dir() else []
        raise ModelNotFoundError(f"{what} {str(path)!r} is not a model folder"
                                 + (f" (no {required}; found {found or 'nothing'})" if folder.is_dir() else "")
                                 + ": pass a folder written by `reducio train export` or save_pretrained")
    return folder


def _weights_dtype(requested: torch.dtype | str | None, base_folder: Path | None) -> torch.dtype:
    if requested is not None:
        return resolve_dtype(requested)
    if base_folder is None:
        return torch.float32
    found = set()
    for path in base_folder.glob("*/*.safetensors"):
        with safe_open(str(path), framework="pt") as weights:
            for key in weights.keys():
                dtype = _SAFETENSORS_FLOATS.get(weights.get_slice(key).get_dtype())
                if dtype is not None:
                    found.add(dtype)
    return found.pop() if len(found) == 1 else torch.float32


def _for_saving(module: Any, dtype: torch.dtype) -> None:
    """Cast a component's floating-point tensors to `dtype` (nn.Module.to: diffusers' override
    only adds a warning) and drop the `_name_or_path` that diffusers' from_pretrained records in
    its config, so a part's config.json does not depend on where it was read from."""
    if not isinstance(module, torch.nn.Module):
        return
    torch.nn.Module.to(module, dtype)
    config = getattr(module, "_internal_dict", None)
    if config is not None and "_name_or_path" in config:
        module._internal_dict = FrozenDict({k: v for k, v in config.items() if k != "_name_or_path"})


def _extra_files(folder: Path) -> list[Path]:
    """What `folder` holds besides model_index.json and its components (e.g. metadata.json)."""
    index = _read_model_index(folder)
    components = {name for name, entry in index.items() if isinstance(entry, list)}
    return [path for path in sorted(folder.iterdir())
            if path.name != MODEL_INDEX and path.name not in components]


def _save(pipe: ReducioTextToVideoPipeline, folder: Path, sources: dict[str, str], carried: list[Path]) -> None:
    pipe.save_pretrained(folder)
    for name in sources:               # named, not copied: from_pretrained loads them by name
        shutil.rmtree(folder / name, ignore_errors=True)
    for path in carried:
        if not (folder / path.name).exists():
            (shutil.copytree if path.is_dir() else shutil.copy2)(path, folder / path.name)


def _write_swapped(output: Path, write) -> None:
    """`write(tmp)` into a temporary sibling of `output`, then rename it to `output`; an existing
    `output` is moved aside first and put back if the rename fails, and removed after it."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = output.with_name(f".{output.name}.assemble-{tag}")
    old = output.with_name(f".{output.name}.replaced-{tag}")
    try:
        write(tmp)
        if output.exists():
            os.replace(output, old)
            try:
                os.replace(tmp, output)
            except BaseException:
                os.replace(old, output)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, output)
    except OSError as error:
        raise OutputPathError(f"cannot write the pipeline folder {output}: {error}") from error
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["DEFAULT_STEPS", "TEXT_ENCODERS", "assemble_text_to_video"]
