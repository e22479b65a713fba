"""Image + text -> video with Reducio-DiT and Reducio-VAE (stage 2 of the paper's generation).

    pipe = ReducioImageToVideoPipeline.from_pretrained("path/to/pipeline")
    out = pipe(image, "a red circle moving right on a black background",
               generator=torch.Generator().manual_seed(0))
    write_video("out.mp4", out.frames[0])

The image becomes the CONTENT FRAME, which is the MIDDLE frame of the clip: frame (T-1)//2 = 7
of a 16-frame clip, not frame 0. Reducio-VAE decodes every window around its middle frame
(SPEC 1, paper Table 3: middle >> random >> none), and the DiT is trained on that frame's
conditions, so the generated clip shows the image at frame 7 with 7 frames before it (the motion
leading up to the picture) and 8 after. Users of other image-to-video models (SVD, I2VGen-XL,
DynamiCrafter) expect the image as the first frame; here it is not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers.utils.torch_utils import randn_tensor
from tqdm.auto import tqdm

from reducio.conditioning.base import ImageContentEncoder, ImageSemanticEncoder, TextEncoder
from reducio.diffusion import (
    DEFAULT_STEPS,
    DiffusionConfig,
    guided_prediction,
    init_noise_sigma,
    make_objective,
    make_scheduler,
    scale_model_input,
)
from reducio.errors import PipelineInputError
from reducio.models.dit import ReducioDiT
from reducio.configs import JsonConfig, check_types
from reducio.models.vae import ReducioVAE
from reducio.pipelines.checks import check_components
from reducio.pipelines.images import ImageInput, as_prompt_list, prepare_image
from reducio.pipelines.long_video import plan_windows, stitch_windows
from reducio.pipelines.offload import ModelCPUOffload, check_offload_device
from reducio.pipelines.output import OUTPUT_TYPES, ReducioPipelineOutput, convert_frames

Callback = Callable[[Any, int, torch.Tensor, dict[str, torch.Tensor]], dict[str, torch.Tensor]]
_SAMPLER_NAMES = {"DPMSolverMultistepScheduler": "dpm", "DDIMScheduler": "ddim",
                  "DDPMScheduler": "ddpm", "FlowMatchEulerDiscreteScheduler": "euler"}


@dataclass(frozen=True, kw_only=True)
class GenerationDefaults(JsonConfig):
    """Sampling defaults stored with a pipeline (model_index.json, "defaults").

    `num_inference_steps` None = the sampler's default (DPM-Solver++ 20, DDIM 50, flow Euler 50).
    Guidance: text 4.5 (PixArt-alpha's), image 1.0 (the content frame is a strong condition
    already); docs/dit-design.md, "Null conditions and classifier-free guidance".
    """

    num_inference_steps: int | None = None
    guidance_scale: float = 4.5
    image_guidance_scale: float = 1.0
    fps: int = 16

    def __post_init__(self) -> None:
        check_types(self)


class ReducioImageToVideoPipeline:
    """Reducio-VAE + Reducio-DiT + frozen condition encoders + a diffusers scheduler.

    Args:
        vae: ReducioVAE (decodes the motion latent around the content frame).
        dit: ReducioDiT over the VAE's layer-normed latent (in_channels = vae latent_channels).
        text_encoder: TextEncoder whose `dim` equals dit.config.text_dim.
        semantic_encoder, content_encoder: image encoders matching dit.config.semantic_dim /
            content_channels (None where the DiT has no such branch).
        scheduler: a diffusers scheduler sampling `diffusion_config`'s objective; None builds the
            default one (`reducio.diffusion.make_scheduler`).
        diffusion_config: the process the DiT was trained with; None = the default for
            dit.config.prediction_type.
        defaults: sampling defaults (steps, guidance scales, fps).
    """

    def __init__(self, vae: ReducioVAE, dit: ReducioDiT, text_encoder: TextEncoder,
                 semantic_encoder: ImageSemanticEncoder | None,
                 content_encoder: ImageContentEncoder | None, scheduler: Any = None,
                 diffusion_config: DiffusionConfig | None = None, *,
                 defaults: GenerationDefaults | None = None) -> None:
        self.vae, self.dit = vae.eval(), dit.eval()
        self.text_encoder = text_encoder
        self.semantic_encoder, self.content_encoder = semantic_encoder, content_encoder
        self.diffusion_config = (diffusion_config if diffusion_config is not None
                                 else DiffusionConfig.for_prediction(dit.config.prediction_type))
        self.scheduler = scheduler if scheduler is not None else make_scheduler(self.diffusion_config)
        self.defaults = defaults if defaults is not None else GenerationDefaults()
        self._progress: dict[str, Any] = {}
        self._current_window = 0
        self._num_timesteps = 0
        self._offload: ModelCPUOffload | None = None
        check_components(self)

    # ------------------------------------------------------------------ components / placement
    @property
    def components(self) -> dict[str, Any]:
        return {"vae": self.vae, "dit": self.dit, "text_encoder": self.text_encoder,
                "semantic_encoder": self.semantic_encoder, "content_encoder": self.content_encoder,
                "scheduler": self.scheduler}

    @property
    def device(self) -> torch.device:
        """Where generation runs (the offload device when model CPU offload is on)."""
        if self._offload is not None:
            return self._offload.device
        return self.dit.patch_embed.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.dit.patch_embed.weight.dtype

    def to(self, device: torch.device | str | None = None,
           dtype: torch.dtype | None = None) -> ReducioImageToVideoPipeline:
        """Move every model (and cast its floating weights); returns self. Turns offload off."""
        self._offload = None
        for module in (self.vae, self.dit, self.text_encoder, self.semantic_encoder,
                       self.content_encoder):
            if module is not None:
                module.to(device=device, dtype=dtype)
        return self

    def enable_model_cpu_offload(self, device: torch.device | str = "cuda", *,
                                 keep_cpu_copy: bool = False) -> ReducioImageToVideoPipeline:
        """Keep every model in CPU memory and move each to `device` only for its stage.

        Text encoder, image encoders, DiT and VAE take turns on the GPU (pipelines/offload.py);
        outputs are the same as without offload. `pipe.to(device)` turns it off again.
        keep_cpu_copy=True: pinned CPU copies stay and a model leaving the GPU is dropped there,
        not copied back (no device-to-host copies; weights read-only while offloaded).
        """
        offload = ModelCPUOffload(check_offload_device(device), keep_cpu_copy=keep_cpu_copy)
        self.to("cpu")
        self._offload = offload
        return self

    def _use(self, *modules: Any) -> None:
        """Bring a stage's models onto the device (a no-op without offload)."""
        if self._offload is not None:
            self._offload.load(*modules)

    def set_progress_bar_config(self, **kwargs: Any) -> None:
        """tqdm options for the progress bars, e.g. disable=True (diffusers' name)."""
        self._progress.update(kwargs)

    def progress_bar(self, iterable, desc: str):
        return tqdm(iterable, desc=desc, leave=False, **self._progress)

    @property
    def current_window(self) -> int:
        """Index of the window being generated (for callbacks of long clips)."""
        return self._current_window

    @property
    def num_timesteps(self) -> int:
        return self._num_timesteps

    # ------------------------------------------------------------------ saving / loading
    def save_pretrained(self, directory: str | Path, *, references: dict | None = None) -> Path:
        """A diffusers-like folder: model_index.json + vae/, dit/, scheduler/, diffusion/ and
        encoder references (pipelines/loading.py)."""
        from reducio.pipelines.loading import save_pipeline

        return save_pipeline(self, directory, references=references)

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, *, device: torch.device | str | None = None,
                        torch_dtype: torch.dtype | str | None = None,
                        local_files_only: bool = False) -> ReducioImageToVideoPipeline:
        """Load a pipeline folder; None or "builtin" = the packaged default (assets/pipeline-tiny).
        A text-to-video folder gives its image-to-video part."""
        from reducio.pipelines.loading import load_pipeline

        pipe = load_pipeline(path, device=device, torch_dtype=torch_dtype,
                             local_files_only=local_files_only)
        return getattr(pipe, "image_pipeline", pipe)

    # ------------------------------------------------------------------ conditions
    def encode_prompt(self, prompt: str | Sequence[str] | None, *,
                      negative_prompt: str | Sequence[str] | None = None,
                      prompt_embeds: torch.Tensor | None = None,
                      prompt_attention_mask: torch.Tensor | None = None):
        """(tokens (B, L, D), mask (B, L), negative tokens or None, negative mask or None)."""
        if prompt_embeds is None:
            self._use(self.text_encoder)
            encoded = self.text_encoder.encode(as_prompt_list(prompt))
            prompt_embeds, prompt_attention_mask = encoded.tokens, encoded.mask
        elif prompt_attention_mask is None:
            prompt_attention_mask = torch.ones(prompt_embeds.shape[:2], dtype=torch.bool)
        batch = prompt_embeds.shape[0]
        negative = negative_mask = None
        if negative_prompt is not None:
            negatives = as_prompt_list(negative_prompt, "negative_prompt")
            self._use(self.text_encoder)
            encoded = self.text_encoder.encode(negatives * batch if len(negatives) == 1 else negatives)
            negative, negative_mask = encoded.tokens, encoded.mask
        place = dict(device=self.device)
        return (prompt_embeds.to(**place), prompt_attention_mask.to(**place).bool(),
                None if negative is None else negative.to(**place),
                None if negative_mask is None else negative_mask.to(**place))

    def encode_image(self, image: torch.Tensor) -> dict[str, torch.Tensor | None]:
        """(B, 3, H, W) in [-1, 1] -> the DiT's image conditions {"semantic", "content"}."""
        semantic = content = None
        if self.semantic_encoder is not None:
            self._use(self.semantic_encoder)
            semantic = self.semantic_encoder.encode(image).to(self.device)     # B N dim
        if self.content_encoder is not None:
            self._use(self.content_encoder)
            content = self.content_encoder.encode(image).to(self.device)       # B c H/8 W/8
        return {"semantic": semantic, "content": content}

    # ------------------------------------------------------------------ checks
    def check_inputs(self, prompt, image: torch.Tensor, *, num_inference_steps, guidance_scale,
                     image_guidance_scale, num_frames, num_videos_per_prompt, output_type,
                     prompt_embeds, prompt_attention_mask, negative_prompt, latents,
                     callback_on_step_end, height, width) -> None:
        """Raise PipelineInputError naming the argument, the rule and the value received."""
        if prompt is not None and prompt_embeds is not None:
            raise PipelineInputError("pass either `prompt` or `prompt_embeds`, not both "
                                     f"(got prompt={prompt!r} and prompt_embeds of shape "
                                     f"{tuple(prompt_embeds.shape)})")
        if prompt is None and prompt_embeds is None:
            raise PipelineInputError("pass `prompt` (a string or list of strings) or `prompt_embeds`; "
                                     "got neither")
        if prompt is not None:
            as_prompt_list(prompt)
        if prompt_embeds is not None:
            dim = self.dit.config.text_dim
            if prompt_embeds.ndim != 3 or prompt_embeds.shape[2] != dim:
                raise PipelineInputError(f"`prompt_embeds` must be (B, L, {dim}) (the DiT's text_dim), "
                                         f"got {tuple(prompt_embeds.shape)}")
            if prompt_attention_mask is not None and \
                    tuple(prompt_attention_mask.shape) != tuple(prompt_embeds.shape[:2]):
                raise PipelineInputError(f"`prompt_attention_mask` must be (B, L) = "
                                         f"{tuple(prompt_embeds.shape[:2])}, got "
                                         f"{tuple(prompt_attention_mask.shape)}")
        elif prompt_attention_mask is not None:
            raise PipelineInputError("`prompt_attention_mask` was given without `prompt_embeds`; "
                                     "drop it (masks of encoded prompts are computed)")
        batch = prompt_embeds.shape[0] if prompt_embeds is not None else len(as_prompt_list(prompt))
        if negative_prompt is not None and \
                len(as_prompt_list(negative_prompt, "negative_prompt")) not in (1, batch):
            raise PipelineInputError(f"`negative_prompt` holds {len(as_prompt_list(negative_prompt))} "
                                     f"prompts for {batch} prompt(s); pass one, or one per prompt")
        if image.shape[0] not in (1, batch):
            raise PipelineInputError(f"`image` holds {image.shape[0]} images for {batch} prompt(s); "
                                     "pass one image, or one per prompt")
        img_h, img_w = image.shape[-2:]
        s = self.vae.config.space_downsample
        if img_h % s or img_w % s:
            fix_h, fix_w = max(img_h // s, 1) * s, max(img_w // s, 1) * s
            raise PipelineInputError(
                f"`image` size must be a multiple of {s} (the VAE's spatial factor) in height and "
                f"width, got {img_h}x{img_w}; resize or centre-crop it to e.g. {fix_h}x{fix_w} "
                f"(reducio generate: --size {fix_h}x{fix_w})")
        for name, value, actual in (("height", height, img_h), ("width", width, img_w)):
            if value is not None and value != actual:
                raise PipelineInputError(f"`{name}` is {value} but the image is {img_h}x{img_w}: the video "
                                         "has the image's size; resize the image or drop "
                                         f"`{name}`")
        if not isinstance(num_inference_steps, int) or num_inference_steps < 1:
            raise PipelineInputError(f"`num_inference_steps` must be an integer >= 1, got "
                                     f"{num_inference_steps!r}")
        for name, value in (("guidance_scale", guidance_scale),
                            ("image_guidance_scale", image_guidance_scale)):
            if not isinstance(value, (int, float)) or value < 0:
                raise PipelineInputError(f"`{name}` must be a number >= 0 (1 = no guidance), got {value!r}")
        if not isinstance(num_videos_per_prompt, int) or num_videos_per_prompt < 1:
            raise PipelineInputError(f"`num_videos_per_prompt` must be an integer >= 1, got "
                                     f"{num_videos_per_prompt!r}")
        if output_type not in OUTPUT_TYPES:
            raise PipelineInputError(f"`output_type` must be one of {OUTPUT_TYPES}, got {output_type!r}")
        if callback_on_step_end is not None and not callable(callback_on_step_end):
            raise PipelineInputError(f"`callback_on_step_end` must be callable, got "
                                     f"{type(callback_on_step_end).__name__}")
        window = self.vae.config.frames
        plan = plan_windows(num_frames, window, self.vae.content_frame_index(window))
        if latents is not None:
            c, t, h, w = self.vae.latent_shape(window, img_h, img_w)
            shape = (batch * num_videos_per_prompt, c, t * plan.num_windows, h, w)
            if tuple(latents.shape) != shape:
                raise PipelineInputError(
                    f"`latents` must have shape {shape} (B * num_videos_per_prompt, C, "
                    f"{t} latent frames x {plan.num_windows} window(s), H/{s}, W/{s}) for a "
                    f"{img_h}x{img_w} image and {num_frames} frames, got {tuple(latents.shape)}")

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def __call__(
        self,
        image: ImageInput,
        prompt: str | Sequence[str] | None = None,
        *,
        negative_prompt: str | Sequence[str] | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        image_guidance_scale: float | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        prompt_embeds: torch.Tensor | None = None,
        prompt_attention_mask: torch.Tensor | None = None,
        num_videos_per_prompt: int = 1,
        num_frames: int = 16,
        height: int | None = None,
        width: int | None = None,
        callback_on_step_end: Callback | None = None,
        output_type: str = "pt",
        renormalize_latents: bool = True,
    ) -> ReducioPipelineOutput:
        """Generate `num_frames` frames around `image` (the MIDDLE frame (T-1)//2 of each clip).

        Args:
            image: the content frame: (B, 3, H, W) / (3, H, W) float in [-1, 1], uint8 tensor, PIL
                image, uint8 array or a list; H, W multiples of 32. It becomes frame 7 of the
                16-frame clip (not frame 0). The video has the image's size.
            prompt: one string or one per image (or `prompt_embeds` + `prompt_attention_mask`).
            negative_prompt: text used instead of the learned null text in the guidance passes.
            num_inference_steps: sampler steps (None = the pipeline default).
            guidance_scale: text classifier-free guidance (1 = off); image_guidance_scale: image
                guidance (1 = off). With both 1 one conditional DiT pass runs per step.
            generator: seeds the starting noise (and stochastic sampler steps).
            latents: starting noise (B * num_videos_per_prompt, C, n_windows * t, h, w) instead
                of drawing it (window k's noise is the k-th block of t latent frames).
            num_videos_per_prompt: videos per prompt (same image, different noise).
            num_frames: 16, or 16 + 8 k for longer clips generated window by window
                (pipelines/long_video.py).
            height, width: optional; must equal the image's size (nothing is resized).
            callback_on_step_end: f(pipe, step, timestep, {"latents": latents}) -> dict, called
                after each sampler step (of each window: see `pipe.current_window`); a returned
                "latents" replaces the current latents.
            output_type: "pt" | "np" | "pil" | "latent" (see ReducioPipelineOutput).
            renormalize_latents: apply `vae.normalize_latent` to the final latent before decoding
                (default; see docs/generate.md, "Why the final latent is re-normalised").
        Returns:
            ReducioPipelineOutput(frames, latents, timings, images).
        """
        timings: dict[str, float] = {"conditions": 0.0, "denoise": 0.0, "decode": 0.0}
        start = time.perf_counter()
        d = self.defaults
        num_inference_steps = (num_inference_steps if num_inference_steps is not None
                               else d.num_inference_steps or
                               DEFAULT_STEPS.get(_SAMPLER_NAMES.get(type(self.scheduler).__name__), 25))
        guidance_scale = d.guidance_scale if guidance_scale is None else guidance_scale
        image_guidance_scale = d.image_guidance_scale if image_guidance_scale is None else image_guidance_scale

        # 1. Check the inputs (the image first becomes a (B, 3, H, W) tensor in [-1, 1])
        image = prepare_image(image)
        self.check_inputs(prompt, image, num_inference_steps=num_inference_steps,
                          guidance_scale=guidance_scale, image_guidance_scale=image_guidance_scale,
                          num_frames=num_frames, num_videos_per_prompt=num_videos_per_prompt,
                          output_type=output_type, prompt_embeds=prompt_embeds,
                          prompt_attention_mask=prompt_attention_mask,
                          negative_prompt=negative_prompt, latents=latents,
                          callback_on_step_end=callback_on_step_end, height=height, width=width)

        # 2. Encode the prompt; repeat prompts and images for num_videos_per_prompt
        with self._timed(timings, "conditions"):
            text, text_mask, negative, negative_mask = self.encode_prompt(
                prompt, negative_prompt=negative_prompt, prompt_embeds=prompt_embeds,
                prompt_attention_mask=prompt_attention_mask)
        prompts = text.shape[0]
        text, text_mask = _repeat(text, num_videos_per_prompt), _repeat(text_mask, num_videos_per_prompt)
        negative = None if negative is None else _repeat(negative, num_videos_per_prompt)
        negative_mask = None if negative_mask is None else _repeat(negative_mask, num_videos_per_prompt)
        image = image.expand(prompts, -1, -1, -1) if image.shape[0] == 1 else image
        content_image = _repeat(image.to(self.device), num_videos_per_prompt)    # B 3 H W
        batch = content_image.shape[0]

        # 3. Lay out the windows and draw the starting noise of all of them
        window = self.vae.config.frames
        plan = plan_windows(num_frames, window, self.vae.content_frame_index(window))
        c, t, h, w = self.vae.latent_shape(window, *image.shape[-2:])
        shape = (batch, c, t * plan.num_windows, h, w)
        if latents is None:
            latents = randn_tensor(shape, generator=generator, device=self.device, dtype=torch.float32)
        latents = latents.to(device=self.device, dtype=torch.float32) * init_noise_sigma(self.scheduler)

        window_latents, window_videos = [], []
        for k in range(plan.num_windows):
            self._current_window = k
            # 4. The content frame's conditions (window k >= 1: the previous window's last frame)
            if k > 0:
                content_image = window_videos[-1][:, :, window - 1].clamp(-1.0, 1.0)
            with self._timed(timings, "conditions"):
                image_conditions = self.encode_image(content_image)

            # 5. Denoise: the sampling loop
            self.scheduler.set_timesteps(num_inference_steps, device=self.device)
            timesteps = self.scheduler.timesteps
            self._num_timesteps = len(timesteps)
            latent = latents[:, :, k * t:(k + 1) * t]                             # B C t h w
            desc = "image-to-video" + (f" {k + 1}/{plan.num_windows}" if plan.num_windows > 1 else "")
            objective = make_objective(self.diffusion_config)
            self._use(self.dit)
            with self._timed(timings, "denoise"):
                for i, timestep in enumerate(self.progress_bar(timesteps, desc)):
                    model_input = scale_model_input(self.scheduler, latent, timestep)
                    prediction = guided_prediction(
                        self.dit, model_input, timestep, text_scale=guidance_scale,
                        image_scale=image_guidance_scale, negative_text=negative,
                        negative_text_mask=negative_mask, text=text, text_mask=text_mask,
                        **image_conditions)
                    prediction = objective.scheduler_prediction(prediction, model_input, timestep)
                    latent = self.scheduler.step(prediction.float(), timestep, latent,
                                                 generator=generator).prev_sample
                    if callback_on_step_end is not None:
                        outputs = callback_on_step_end(self, i, timestep, {"latents": latent})
                        latent = (outputs or {}).get("latents", latent)

            # 6. Back to the VAE's exact latent space, then decode around the content frame
            self._use(self.vae)
            if renormalize_latents:
                latent = self.vae.normalize_latent(latent.to(self.vae.dtype)).float()
            window_latents.append(latent)
            if output_type != "latent" or k < plan.num_windows - 1:
                with self._timed(timings, "decode"):
                    video = self.vae.decode(latent.to(self.vae.dtype),
                                            content_image.to(self.vae.dtype)).sample.float()
                window_videos.append(video)                                     # B 3 16 H W

        if self._offload is not None:
            self._offload.release()

        # 7. Stitch the windows and convert
        all_latents = torch.cat(window_latents, dim=2)                          # B C n*t h w
        if output_type == "latent":
            frames = all_latents
        else:
            frames = convert_frames(stitch_windows(window_videos, plan), output_type)
        timings["total"] = time.perf_counter() - start
        return ReducioPipelineOutput(frames=frames, latents=all_latents, timings=timings,
                                     images=_repeat(image, num_videos_per_prompt).cpu())

    @contextmanager
    def _timed(self, timings: dict[str, float], key: str):
        """Add the wall time of the block to timings[key] (CUDA work is waited for)."""
        sync = self.device.type == "cuda"
        if sync:
            torch.cuda.synchronize(self.device)
        begin = time.perf_counter()
        yield
        if sync:
            torch.cuda.synchronize(self.device)
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - begin


def _repeat(x: torch.Tensor, times: int) -> torch.Tensor:
    """Each sample `times` times in a row (prompt 0's videos first), like diffusers."""
    return x if times == 1 else x.repeat_interleave(times, dim=0)


__all__ = ["GenerationDefaults", "ReducioImageToVideoPipeline"]
