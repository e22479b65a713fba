"""Stage 1 of text-to-video: the small built-in text-to-image generator (the content frame).

The paper's first stage is "any T2I model" [paper, abstract]; at full scale a diffusers
text-to-image pipeline (e.g. PixArt-alpha) draws the image and `ReducioImageToVideoPipeline`
animates it (docs/generate.md, "Full scale"). For the offline default this module provides a small generator trained on the shapes world's content
frames (the middle frame of each clip). It reuses `ReducioDiT` rather than adding a second
transformer: the 64 x 64 RGB image is treated as a one-frame "latent" (B, 3, 1, H, W) in pixel
space, cut into (1, 8, 8) patches (64 tokens), conditioned on text only (the semantic and content
branches are None, so the model has no image parameters).

Objective: rectified flow by default, chosen by a measurement on CPU (docs/generate.md, "The
built-in image generator (stage 1)"): after 250 equal training steps flow's samples had the
prompt's background for 32 of 32 validation prompts, epsilon prediction's for 12 (chance: 11).

Training belongs to the shared loop (`reducio train stage1`); this module exposes
`training_loss(images, text_tokens, text_mask, generator)` for its objective. In a
`ReducioTextToVideoPipeline` the generator's parts are top-level components (`image_transformer`,
`image_refiner`, `image_reranker`, `image_scheduler`), so diffusers' offload reaches each of them;
`ImageRefiner` and `ImageReranker` are the diffusers-loadable forms of the refiner and reranker
(same weights, same state-dict keys).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import diffusers
import torch
from diffusers import ModelMixin  # diffusers looks ModelMixin up in the module of a component class
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.configuration_utils import ConfigMixin, register_to_config
from torch import nn
from tqdm.auto import tqdm

from reducio.conditioning.base import TextEmbedding, TextEncoder
from reducio.configs import Config, lookup_preset
from reducio.diffusion import (
    DiffusionConfig,
    DiffusionObjective,
    guided_prediction,
    init_noise_sigma,
    make_objective,
    make_scheduler,
    sample_condition_drop,
    sampler_name,
    scale_model_input,
)
from reducio.loading.safe_load import read_safetensors
from reducio.loading.saving import atomic_write_text, restore_aliases, save_safetensors
from reducio.loading.state_dict import load_state_dict_strict
from reducio.errors import ConfigError, ModelNotFoundError, PipelineInputError
from reducio.models.dit import DiTConfig, ReducioDiT, with_patch_size
from reducio.models.dit.refiner import ConvRefiner
from reducio.models.frame_text_matcher import FrameTextMatcher
from reducio.models.modeling import PlainDtypeCastMixin
from reducio.pipelines.components import load_text_encoder

# ----------------------------------------------------------------------------- config


@dataclass(frozen=True, kw_only=True)
class Stage1Config(Config):
    """The built-in image generator: a pixel-space DiT, its diffusion process and sampling defaults.

    - `dit`: a DiTConfig with in_channels 3 (RGB pixels), pt = 1 (one frame), text_dim set and
      semantic_dim / content_channels None (text-conditioned only).
    - `diffusion`: its objective (`diffusion.objective` must equal `dit.prediction_type`).
    - `image_size`: the resolution it was trained at (the default height and width).
    - `text_encoder`: reference of the text encoder it was trained with: "minilm" (built-in,
      offline) or a T5 folder / hub id. Its width must equal `dit.text_dim`.
    - `sampler`, `num_inference_steps`, `guidance_scale`: sampling defaults (None = the
      objective's default sampler).
    - `refiner_width`, `refiner_depth`: a residual 3x3-conv stack on the DiT's pixel output
      (`ConvRefiner`; 0 = none) that lets neighbouring patches agree on the edges they share.
    - `reranker_dim`, `reranker_width`: a `FrameTextMatcher` stored with the generator (0 = none);
      `num_candidates`: frames sampled per prompt, the one the matcher scores best kept (1 = no
      reranking; > 1 needs the matcher).

    JSON stores `dit` and `diffusion` as nested objects (`Config` rebuilds them).
    """

    dit: DiTConfig
    diffusion: DiffusionConfig = field(default_factory=lambda: DiffusionConfig(objective="flow"))
    image_size: int = 64
    text_encoder: str = "minilm"
    sampler: str | None = None
    num_inference_steps: int = 30
    # Measured on a briefly trained tiny-image model (docs/generate.md): the share of samples
    # showing the prompt's colour rose with guidance (1: 0 %, 3: 16 %, 6: 31 %). Retune on the
    # fully trained model.
    guidance_scale: float = 5.0
    refiner_width: int = 0
    refiner_depth: int = 4
    reranker_dim: int = 0
    reranker_width: int = 32
    num_candidates: int = 1

    def __post_init__(self) -> None:
        errors = []
        if not isinstance(self.dit, DiTConfig) or not isinstance(self.diffusion, DiffusionConfig):
            raise ConfigError("Stage1Config needs dit=DiTConfig(...) and diffusion=DiffusionConfig(...), "
                              f"got {type(self.dit).__name__} and {type(self.diffusion).__name__}")
        d = self.dit
        if d.in_channels != 3:
            errors.append(f"dit.in_channels must be 3 (RGB pixels), got {d.in_channels}")
        if d.patch_size[0] != 1:
            errors.append(f"dit.patch_size[0] must be 1 (an image is one frame), got {d.patch_size}")
        if d.text_dim is None:
            errors.append("dit.text_dim must be set: the image generator is text-conditioned")
        if d.semantic_dim is not None or d.content_channels is not None:
            errors.append("dit.semantic_dim and dit.content_channels must be None (no image condition "
                          f"in stage 1), got {d.semantic_dim} and {d.content_channels}")
        if self.diffusion.objective != d.prediction_type:
            errors.append(f"diffusion.objective {self.diffusion.objective!r} must equal "
                          f"dit.prediction_type {d.prediction_type!r}")
        if self.image_size < 1 or self.image_size % d.patch_size[1] or self.image_size % d.patch_size[2]:
            errors.append(f"image_size {self.image_size} must be a positive multiple of the patch "
                          f"size {d.patch_size[1:]}")
        if self.num_inference_steps < 1:
            errors.append(f"num_inference_steps must be >= 1, got {self.num_inference_steps}")
        if self.guidance_scale < 0:
            errors.append(f"guidance_scale must be >= 0, got {self.guidance_scale}")
        if self.refiner_width < 0 or (self.refiner_width and self.refiner_depth < 2):
            errors.append(f"refiner_width must be >= 0 (0 = no refiner) and refiner_depth >= 2, got "
                          f"{self.refiner_width} / {self.refiner_depth}")
        if self.reranker_dim < 0 or self.reranker_width < 8 or self.reranker_width % 8:
            errors.append(f"reranker_dim must be >= 0 (0 = no reranker) and reranker_width a positive "
                          f"multiple of 8, got {self.reranker_dim} / {self.reranker_width}")
        if self.num_candidates < 1 or (self.num_candidates > 1 and not self.reranker_dim):
            errors.append(f"num_candidates must be >= 1, and > 1 only with a reranker (reranker_dim > 0), "
                          f"got {self.num_candidates} with reranker_dim {self.reranker_dim}")
        if self.sampler is not None:
            make_scheduler(self.diffusion, self.sampler)  # raises ConfigError naming the valid ones
        if errors:
            raise ConfigError("invalid Stage1Config: " + "; ".join(errors))

    @classmethod
    def preset(cls, name: str) -> Stage1Config:
        """Named configs: `tiny-image` (the built-in default, CPU-trainable)."""
        return lookup_preset(name, STAGE1_PRESETS, what="stage-1")


# 64 px shapes-world content frames: 8x8 pixel patches -> 64 tokens of 192 values (as wide as the
# DiT), MiniLM text (384). 2.5M parameters: about 0.5 s per batch-32 step on one CPU thread.
# (1, 4, 4) patches were not chosen: 4x the tokens (256) for flat colours that 8x8 patches hold.
_TINY_IMAGE = Stage1Config(
    dit=DiTConfig(in_channels=3, patch_size=(1, 8, 8), hidden_size=192, depth=6, num_heads=6,
                  text_dim=384, semantic_dim=None, content_channels=None, prediction_type="flow"),
    diffusion=DiffusionConfig(objective="flow", image_drop_prob=0.0),
    image_size=64,
)

STAGE1_PRESETS: dict[str, Stage1Config] = {"tiny-image": _TINY_IMAGE}


# ----------------------------------------------------------------------------- components


class ImageRefiner(ConvRefiner, PlainDtypeCastMixin, ModelMixin, ConfigMixin):
    """`ConvRefiner` as a diffusers model: a pipeline component that saves, loads and offloads."""

    @register_to_config
    def __init__(self, channels: int = 3, width: int = 32, depth: int = 4,
                 num_train_timesteps: int = 1000) -> None:
        ConvRefiner.__init__(self, channels, width=width, depth=depth,
                             num_train_timesteps=num_train_timesteps)


class ImageReranker(FrameTextMatcher, PlainDtypeCastMixin, ModelMixin, ConfigMixin):
    """`FrameTextMatcher` as a diffusers model; `forward` scores, so offload hooks see the call."""

    @register_to_config
    def __init__(self, text_dim: int = 384, dim: int = 384, width: int = 32) -> None:
        FrameTextMatcher.__init__(self, text_dim, dim=dim, width=width)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        """images (B, 3, H, W) in [-1, 1], tokens (B, L, text_dim), mask (B, L) -> (B,) cosine."""
        return self.score(images, tokens, mask)


# ----------------------------------------------------------------------------- model

CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"


class ReducioStage1Generator(nn.Module):
    """Text -> content image (B, 3, H, W) in [-1, 1] with a pixel-space ReducioDiT.

    `gen(prompt, generator=g, num_inference_steps=30, guidance_scale=5.0, height=64, width=64)`.
    Weights: `save_pretrained(dir)` / `from_pretrained(dir)` (config.json + model.safetensors; the
    text encoder is a reference in the config, loaded on first use or set with `text_encoder=`).
    This is the training form (one module, one state dict); for generation its parts become the
    components of a `ReducioTextToVideoPipeline`.
    """

    config_class = Stage1Config

    def __init__(self, config: Stage1Config | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else Stage1Config.preset("tiny-image")
        self.dit = ReducioDiT(self.config.dit)
        self.refiner = self._make_refiner(self.config)
        self.reranker = self._make_reranker(self.config)
        # Held outside the module tree: the text encoder is shared with the video stage and is
        # not part of this model's weights.
        object.__setattr__(self, "_text_encoder", None)

    @staticmethod
    def _make_refiner(config: Stage1Config) -> ImageRefiner | None:
        if not config.refiner_width:
            return None
        return ImageRefiner(config.dit.in_channels, width=config.refiner_width, depth=config.refiner_depth,
                            num_train_timesteps=config.diffusion.num_train_timesteps)

    @staticmethod
    def _make_reranker(config: Stage1Config) -> ImageReranker | None:
        if not config.reranker_dim:
            return None
        return ImageReranker(config.dit.text_dim, dim=config.reranker_dim, width=config.reranker_width)

    # ------------------------------------------------------------------ saving / loading
    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """config.json (the Stage1Config) + model.safetensors (the DiT, refiner and reranker)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_safetensors(self.state_dict(), directory / WEIGHTS_FILE,
                         {"reducio_class": type(self).__name__})
        atomic_write_text(directory / CONFIG_FILE, json.dumps(self.config.to_dict(), indent=2) + "\n")
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, *, torch_dtype: torch.dtype | None = None,
                        device: torch.device | str | None = None) -> ReducioStage1Generator:
        """A folder written by `save_pretrained` (weights loaded strictly: every key and shape),
        or a text-to-video pipeline folder (model_index.json): its stage-1 parts, e.g. the
        built-in `src/reducio/assets/pipeline-tiny`."""
        directory = Path(directory).expanduser()
        if (directory / "model_index.json").is_file():
            model = cls._from_pipeline_folder(directory, torch_dtype)
            return (model.to(device) if device is not None else model).eval()
        if not (directory / CONFIG_FILE).is_file() or not (directory / WEIGHTS_FILE).is_file():
            found = sorted(p.name for p in directory.iterdir())[:12] if directory.is_dir() else []
            raise ModelNotFoundError(f"{directory} holds no stage-1 generator: expected {CONFIG_FILE} "
                                     f"and {WEIGHTS_FILE}, found {found or 'nothing'}")
        config = Stage1Config.from_json(directory / CONFIG_FILE)
        tensors, metadata = read_safetensors(directory / WEIGHTS_FILE)
        state_dict = restore_aliases(tensors, metadata, str(directory / WEIGHTS_FILE))
        model = cls(config)
        load_state_dict_strict(model, state_dict, str(directory / WEIGHTS_FILE), dtype=torch_dtype)
        if device is not None:
            model.to(device)
        return model.eval()

    @classmethod
    def _from_pipeline_folder(cls, directory: Path, torch_dtype: torch.dtype | None):
        """The generator a ReducioTextToVideoPipeline folder holds as its image_* components and
        stage1_* settings (the inverse of `stage1_components`), each part loaded strictly."""
        index = json.loads((directory / "model_index.json").read_text())
        if not index.get("image_transformer") or index["image_transformer"][0] is None:
            raise ModelNotFoundError(f"{directory} is a pipeline folder without a stage-1 image "
                                     "generator (no image_transformer)")
        dit = ReducioDiT.from_pretrained(directory / "image_transformer", torch_dtype=torch_dtype)
        scheduler_config = json.loads((directory / "image_scheduler" / "scheduler_config.json").read_text())
        scheduler_cls = getattr(diffusers, str(scheduler_config.get("_class_name")), None)
        if scheduler_cls is None or not issubclass(scheduler_cls, SchedulerMixin):
            raise ConfigError(f"{directory / 'image_scheduler'}: unknown scheduler class "
                              f"{scheduler_config.get('_class_name')!r}")
        scheduler = scheduler_cls.from_config(scheduler_config)
        parts = {name: index.get(name) or [None, None] for name in ("image_refiner", "image_reranker")}
        refiner = (ImageRefiner.from_pretrained(directory / "image_refiner", torch_dtype=torch_dtype)
                   if parts["image_refiner"][0] else None)
        reranker = (ImageReranker.from_pretrained(directory / "image_reranker", torch_dtype=torch_dtype)
                    if parts["image_reranker"][0] else None)
        sources = index.get("component_sources") or {}
        config = Stage1Config(
            dit=dit.arch, diffusion=DiffusionConfig.from_dict(index["stage1_diffusion_config"]),
            image_size=index.get("stage1_image_size", 64),
            text_encoder=sources.get("text_encoder") or str(directory / "text_encoder"),
            sampler=sampler_name(scheduler),
            num_inference_steps=index.get("stage1_num_inference_steps", 30),
            guidance_scale=index.get("stage1_guidance_scale", 5.0),
            refiner_width=refiner.config.width if refiner is not None else 0,
            refiner_depth=refiner.config.depth if refiner is not None else 4,
            reranker_dim=reranker.config.dim if reranker is not None else 0,
            reranker_width=reranker.config.width if reranker is not None else 32,
            num_candidates=index.get("stage1_num_candidates", 1))
        model = cls(config)
        model.dit = dit
        model.refiner = refiner
        model.reranker = reranker
        return model

    def attach_reranker(self, matcher: FrameTextMatcher, *, num_candidates: int = 4) -> None:
        """Store a trained `FrameTextMatcher` with the generator and sample `num_candidates`
        frames per prompt by default, keeping the best-scored; `save_pretrained` keeps both."""
        if matcher.text_tower[0].in_features != self.config.dit.text_dim:
            raise ConfigError(f"the matcher reads {matcher.text_tower[0].in_features}-d text tokens, the "
                              f"generator's text encoder gives {self.config.dit.text_dim}-d")
        self.config = self.config.replace(reranker_dim=matcher.frame_head.out_features,
                                          reranker_width=matcher.frame_tower[0].out_channels,
                                          num_candidates=num_candidates)
        reranker = self._make_reranker(self.config)
        reranker.load_state_dict(matcher.state_dict())
        self.reranker = reranker.to(device=self.device, dtype=self.dtype)

    def add_refiner(self, width: int = 32, depth: int = 4) -> None:
        """Give a trained generator a (zero-initialised, so output-preserving) ConvRefiner to
        fine-tune; `config` records it, so `save_pretrained` / `from_pretrained` keep it."""
        if self.refiner is not None:
            raise ConfigError(f"this generator already has a refiner (width {self.config.refiner_width}, "
                              f"depth {self.config.refiner_depth})")
        self.config = self.config.replace(refiner_width=width, refiner_depth=depth)
        self.refiner = self._make_refiner(self.config).to(device=self.device, dtype=self.dtype)

    def resize_patches(self, patch_size: tuple[int, int, int] | list[int]) -> None:
        """Give the DiT smaller patches (each entry dividing the old one), its weights mapped so
        the blocks start from what they learned (models/dit/patch_resize.py): the warm start of
        a finer-grained generator, to fine-tune. `config` records the new size."""
        self.dit = with_patch_size(self.dit, patch_size)
        self.config = self.config.replace(dit=self.dit.arch)

    def denoise(self, noisy: torch.Tensor, timesteps: torch.Tensor | float, **conditions) -> torch.Tensor:
        """The model's prediction for `noisy` (B, 3, 1, H, W): the DiT, then the refiner if any.
        Same signature as `ReducioDiT.forward`, so guidance can call it in the DiT's place."""
        prediction = self.dit(noisy, timesteps, return_dict=False, **conditions)[0]
        if self.refiner is None:
            return prediction
        return self.refiner(prediction, noisy, timesteps)

    def _denoise_tuple(self, noisy, timesteps, return_dict: bool = False, **conditions):
        """`denoise` called the way `guided_prediction` calls a DiT (it asks for a tuple)."""
        return (self.denoise(noisy, timesteps, **conditions),)

    @functools.cached_property
    def objective(self) -> DiffusionObjective:
        # Built on first use, not in __init__: `from_pretrained` constructs the module on the meta
        # device, where the epsilon objective's alphas table would be created without values.
        return make_objective(self.config.diffusion)

    # ------------------------------------------------------------------ text
    @property
    def text_encoder(self) -> TextEncoder:
        """The text encoder (loaded from `config.text_encoder` on first use)."""
        if self._text_encoder is None:
            self.set_text_encoder(load_text_encoder(self.config.text_encoder, device=self.device))
        return self._text_encoder

    def set_text_encoder(self, encoder: TextEncoder | None) -> None:
        """Use `encoder` for prompts (e.g. the video stage's, shared); it is not saved with us."""
        if encoder is not None and encoder.dim != self.config.dit.text_dim:
            raise ConfigError(f"the stage-1 DiT takes {self.config.dit.text_dim}-d text tokens but the "
                              f"text encoder gives {encoder.dim}-d; use the encoder it was trained "
                              f"with ({self.config.text_encoder!r})")
        object.__setattr__(self, "_text_encoder", encoder)

    def __setattr__(self, name: str, value: Any) -> None:
        # nn.Module would register an assigned encoder as a submodule (and save its weights).
        if name == "text_encoder":
            self.set_text_encoder(value)
        else:
            super().__setattr__(name, value)

    @property
    def device(self) -> torch.device:
        return self.dit.patch_embed.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.dit.patch_embed.weight.dtype

    def encode_prompt(self, prompts: Sequence[str]) -> TextEmbedding:
        return self.text_encoder.encode(list(prompts)).to(device=self.device)

    # ------------------------------------------------------------------ training
    def training_loss(self, images: torch.Tensor, text_tokens: torch.Tensor,
                      text_mask: torch.Tensor | None = None, *,
                      generator: torch.Generator | None = None,
                      drop_text: torch.Tensor | bool | None = None) -> torch.Tensor:
        """One diffusion loss on a batch of content frames (what `reducio train stage1` calls).

        Args:
            images: (B, 3, H, W) in [-1, 1] (the middle frames of clips).
            text_tokens, text_mask: (B, L, text_dim) / (B, L) from the text encoder.
            generator: draws the noise, timesteps and the caption dropout.
            drop_text: (B,) bool; None = drawn with `config.diffusion.text_drop_prob`
                (trains the unconditional branch classifier-free guidance needs).
        Returns: scalar float32 MSE.
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise PipelineInputError(f"images must be (B, 3, H, W) in [-1, 1], got {tuple(images.shape)}")
        latent = images[:, :, None]                                            # B 3 1 H W
        batch = self.objective.prepare(latent, generator=generator)
        if drop_text is None:
            drop_text, _ = sample_condition_drop(images.shape[0], self.config.diffusion.text_drop_prob,
                                                 0.0, generator=generator, device=images.device)
        prediction = self.denoise(batch.noisy, batch.timesteps, text=text_tokens, text_mask=text_mask,
                                  drop_text=drop_text)
        return self.objective.loss(prediction, batch)

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def forward(self, prompt: str | Sequence[str] | None = None, *,
                generator: torch.Generator | None = None,
                num_inference_steps: int | None = None, guidance_scale: float | None = None,
                height: int | None = None, width: int | None = None,
                negative_prompt: str | Sequence[str] | None = None,
                prompt_embeds: torch.Tensor | None = None,
                prompt_attention_mask: torch.Tensor | None = None,
                latents: torch.Tensor | None = None,
                num_candidates: int | None = None,
                progress: bool = False) -> torch.Tensor:
        """Generate content images.

        Args:
            prompt: one string or B strings (or give `prompt_embeds` instead).
            generator: seeds the starting noise (and any stochastic sampler step).
            num_inference_steps, guidance_scale: None = the config's defaults; guidance 1 = none.
            height, width: None = config.image_size; multiples of the DiT patch size.
            negative_prompt: replaces the learned null text in the guidance term.
            prompt_embeds, prompt_attention_mask: (B, L, text_dim) / (B, L) precomputed tokens.
            latents: (B * N, 3, 1, H, W) starting noise instead of drawing it (N = num_candidates;
                prompt b's candidates are rows b * N ... b * N + N - 1).
            num_candidates: N frames sampled per prompt, the one the stored reranker scores best
                against the prompt is returned (None = config.num_candidates; 1 = no reranking).
        Returns:
            (B, 3, H, W) float32 in [-1, 1].
        """
        c = self.config
        steps = c.num_inference_steps if num_inference_steps is None else num_inference_steps
        scale = c.guidance_scale if guidance_scale is None else guidance_scale
        height = c.image_size if height is None else height
        width = c.image_size if width is None else width
        _check_sampling_args(steps, scale, height, width, c.dit.patch_size, prompt, prompt_embeds)
        candidates = c.num_candidates if num_candidates is None else num_candidates
        if not isinstance(candidates, int) or candidates < 1:
            raise PipelineInputError(f"`num_candidates` must be an integer >= 1, got {candidates!r}")
        if candidates > 1 and self.reranker is None:
            raise PipelineInputError(f"`num_candidates` {candidates} needs a reranker to choose among the "
                                     "candidates and this stage-1 generator has none; use 1, or attach "
                                     "one (`reducio train reranker`, then attach_reranker)")

        if prompt_embeds is None:
            prompts = [prompt] if isinstance(prompt, str) else list(prompt)
            text = self.encode_prompt(prompts)
            prompt_embeds, prompt_attention_mask = text.tokens, text.mask
        prompts_in = prompt_embeds.shape[0]
        negative, negative_mask = None, None
        if negative_prompt is not None:
            negatives = [negative_prompt] * prompts_in if isinstance(negative_prompt, str) else list(negative_prompt)
            encoded = self.encode_prompt(negatives)
            negative, negative_mask = encoded.tokens, encoded.mask
        if candidates > 1:                      # each prompt's rows repeated N times, in order
            prompt_embeds = prompt_embeds.repeat_interleave(candidates, 0)
            if prompt_attention_mask is not None:
                prompt_attention_mask = prompt_attention_mask.repeat_interleave(candidates, 0)
            if negative is not None:
                negative = negative.repeat_interleave(candidates, 0)
                negative_mask = negative_mask.repeat_interleave(candidates, 0)
        batch = prompt_embeds.shape[0]

        scheduler = make_scheduler(c.diffusion, c.sampler)
        scheduler.set_timesteps(steps, device=self.device)
        shape = (batch, 3, 1, height, width)
        if latents is None:
            from diffusers.utils.torch_utils import randn_tensor

            latents = randn_tensor(shape, generator=generator, device=self.device, dtype=torch.float32)
            latents = latents * init_noise_sigma(scheduler)
        elif tuple(latents.shape) != shape:
            raise PipelineInputError(f"latents must have shape {shape} (B, 3, 1, height, width), "
                                     f"got {tuple(latents.shape)}")
        latents = latents.to(device=self.device, dtype=torch.float32)

        for t in tqdm(scheduler.timesteps, desc="text-to-image", disable=not progress, leave=False):
            model_input = scale_model_input(scheduler, latents, t)
            prediction = guided_prediction(self._denoise_tuple, model_input, t, text_scale=scale,
                                           negative_text=negative, negative_text_mask=negative_mask,
                                           text=prompt_embeds, text_mask=prompt_attention_mask)
            prediction = self.objective.scheduler_prediction(prediction, model_input, t)
            latents = scheduler.step(prediction.float(), t, latents, generator=generator).prev_sample
        images = latents[:, :, 0].clamp(-1.0, 1.0)                            # B*N 3 H W
        if candidates == 1:
            return images
        scores = self.reranker.score(images.to(self.dtype), prompt_embeds, prompt_attention_mask)
        best = scores.view(prompts_in, candidates).argmax(1)                  # B
        return images.view(prompts_in, candidates, *images.shape[1:])[torch.arange(prompts_in), best]


def stage1_components(generator: ReducioStage1Generator) -> dict[str, Any]:
    """The stage-1 components and settings of a ReducioTextToVideoPipeline from a generator
    (the arguments `ReducioTextToVideoPipeline(...)` takes for them)."""
    config = generator.config
    return dict(image_transformer=generator.dit, image_refiner=generator.refiner,
                image_reranker=generator.reranker,
                image_scheduler=make_scheduler(config.diffusion, config.sampler),
                stage1_diffusion_config=config.diffusion.to_dict(),
                stage1_image_size=config.image_size,
                stage1_num_inference_steps=config.num_inference_steps,
                stage1_guidance_scale=config.guidance_scale,
                stage1_num_candidates=config.num_candidates)


def _check_sampling_args(steps, scale, height, width, patch, prompt, prompt_embeds) -> None:
    if (prompt is None) == (prompt_embeds is None):
        raise PipelineInputError("pass exactly one of `prompt` and `prompt_embeds`, got "
                                 f"{'both' if prompt is not None else 'neither'}")
    if prompt is not None and not (isinstance(prompt, str) or
                                   (len(prompt) > 0 and all(isinstance(p, str) for p in prompt))):
        raise PipelineInputError(f"`prompt` must be a string or a non-empty list of strings, got {prompt!r}")
    if not isinstance(steps, int) or steps < 1:
        raise PipelineInputError(f"`num_inference_steps` must be an integer >= 1, got {steps!r}")
    if scale < 0:
        raise PipelineInputError(f"`guidance_scale` must be >= 0 (1 = no guidance), got {scale}")
    for name, value, p in (("height", height, patch[1]), ("width", width, patch[2])):
        if not isinstance(value, int) or value < p or value % p:
            raise PipelineInputError(f"`{name}` must be a positive multiple of the stage-1 patch size "
                                     f"{p}, got {value!r}")


__all__ = ["STAGE1_PRESETS", "ImageRefiner", "ImageReranker", "ReducioStage1Generator", "Stage1Config",
           "stage1_components"]
