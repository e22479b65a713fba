"""Text -> video in two stages (paper, abstract): text -> content image, then image + text -> video.

    pipe = ReducioTextToVideoPipeline.from_pretrained("tiny")      # the built-in, offline
    out = pipe("a red circle moving right on a black background",
               generator=torch.Generator().manual_seed(0))
    export_to_video(out.frames[0], "out.mp4", fps=16)

Stage 1 is the built-in pixel-space generator (stage1.py), held as top-level components so that
diffusers' offload hooks reach each model: `image_transformer` (a ReducioDiT with in_channels 3),
`image_scheduler`, and the optional `image_refiner` and `image_reranker`. Stage 2 is the video
stage of `ReducioImageToVideoPipeline`: the generated image becomes the MIDDLE frame (frame 7 of
16) of the clip, or its first frame with image_position="first". For a large text-to-image model
(PixArt-alpha, SDXL) run that diffusers pipeline and pass its image to
`ReducioImageToVideoPipeline`.
"""

import time
from collections.abc import Sequence
from typing import Any

import torch
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils.torch_utils import randn_tensor
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from reducio.diffusion import (
    DiffusionConfig,
    guided_prediction,
    init_noise_sigma,
    make_objective,
    make_scheduler,
    scale_model_input,
)
from reducio.errors import PipelineInputError
from reducio.models.dit import ReducioDiT
from reducio.models.vae import ReducioVAE
from reducio.pipelines.base import (
    Callback,
    ReducioVideoPipeline,
    _onload,
    _timed,
    check_count,
    check_number,
)
from reducio.pipelines.images import as_prompt_list
from reducio.pipelines.stage1 import (
    ImageRefiner,
    ImageReranker,
    ReducioStage1Generator,
    stage1_components,
)


class ReducioTextToVideoPipeline(ReducioVideoPipeline):
    """Stage 1 (text -> content image) + the video stage (image + text -> video).

    Args (the video stage's as in ReducioImageToVideoPipeline), and:
        image_transformer: the stage-1 ReducioDiT (pixel space: in_channels 3, one frame, text
            only); it reads the same text encoder's tokens (its text_dim = the encoder's width).
        image_scheduler: the stage-1 diffusers scheduler.
        image_refiner: an ImageRefiner applied to the stage-1 prediction, or None.
        image_reranker: an ImageReranker that picks the best of `num_candidates` images, or None.
        stage1_diffusion_config: the DiffusionConfig (or dict) stage 1 was trained with.
        stage1_image_size, stage1_num_inference_steps, stage1_guidance_scale,
        stage1_num_candidates: its sampling defaults.
    """

    model_cpu_offload_seq = ("text_encoder->image_transformer->image_refiner->image_reranker->"
                             "semantic_encoder->content_encoder->transformer->vae")
    _optional_components = ["semantic_encoder", "content_encoder", "image_refiner", "image_reranker"]

    # Real classes, not strings: diffusers' `from_pipe` reads these annotations.
    def __init__(self, vae: ReducioVAE, transformer: ReducioDiT, scheduler: SchedulerMixin,
                 text_encoder: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                 image_transformer: ReducioDiT, image_scheduler: SchedulerMixin,
                 semantic_encoder: torch.nn.Module | None = None,
                 content_encoder: torch.nn.Module | None = None,
                 image_refiner: ImageRefiner | None = None,
                 image_reranker: ImageReranker | None = None, *, diffusion_config: Any = None,
                 semantic_encoder_config: dict | None = None,
                 content_encoder_config: dict | None = None, max_sequence_length: int = 64,
                 clean_caption: bool = True, default_num_inference_steps: int | None = None,
                 default_guidance_scale: float = 4.5, default_image_guidance_scale: float = 1.0,
                 default_fps: int = 16, component_sources: dict | None = None,
                 shapes_world_prompts: bool = False,
                 stage1_diffusion_config: Any = None, stage1_image_size: int = 64,
                 stage1_num_inference_steps: int = 30, stage1_guidance_scale: float = 5.0,
                 stage1_num_candidates: int = 1) -> None:
        super().__init__()
        self._register_video_parts(
            vae=vae, transformer=transformer, scheduler=scheduler, text_encoder=text_encoder,
            tokenizer=tokenizer, semantic_encoder=semantic_encoder, content_encoder=content_encoder,
            diffusion_config=diffusion_config, semantic_encoder_config=semantic_encoder_config,
            content_encoder_config=content_encoder_config, max_sequence_length=max_sequence_length,
            clean_caption=clean_caption, default_num_inference_steps=default_num_inference_steps,
            default_guidance_scale=default_guidance_scale,
            default_image_guidance_scale=default_image_guidance_scale, default_fps=default_fps,
            component_sources=component_sources, shapes_world_prompts=shapes_world_prompts)
        if isinstance(stage1_diffusion_config, DiffusionConfig):
            stage1_diffusion_config = stage1_diffusion_config.to_dict()
        if stage1_diffusion_config is None and image_transformer is not None:
            stage1_diffusion_config = DiffusionConfig.for_prediction(
                image_transformer.arch.prediction_type).to_dict()
        self.register_modules(image_transformer=image_transformer, image_scheduler=image_scheduler,
                              image_refiner=image_refiner, image_reranker=image_reranker)
        self.register_to_config(stage1_diffusion_config=stage1_diffusion_config,
                                stage1_image_size=stage1_image_size,
                                stage1_num_inference_steps=stage1_num_inference_steps,
                                stage1_guidance_scale=stage1_guidance_scale,
                                stage1_num_candidates=stage1_num_candidates)
        self.check_components()

    @classmethod
    def from_stage1(cls, generator: ReducioStage1Generator, **components: Any) -> "ReducioTextToVideoPipeline":
        """Assemble from a trained `ReducioStage1Generator` (its DiT, refiner and reranker become
        the stage-1 components, its config the stage-1 defaults) and the video stage's parts."""
        return cls(**stage1_components(generator), **components)

    # ------------------------------------------------------------------ stage 1
    @property
    def stage1_diffusion(self) -> DiffusionConfig:
        return DiffusionConfig.from_dict(dict(self.config.stage1_diffusion_config))

    def check_inputs(self, prompt, *, stage1_num_inference_steps, stage1_guidance_scale,
                     num_candidates, height, width, **kwargs: Any):
        """PipelineInputError naming the argument, the rule and the value; returns the window plan."""
        if prompt is None:
            raise PipelineInputError("`prompt` is required: stage 1 draws the content image from it")
        batch = len(as_prompt_list(prompt))
        check_count("stage1_num_inference_steps", stage1_num_inference_steps)
        check_number("stage1_guidance_scale", stage1_guidance_scale,
                     "a finite number >= 0 (1 or below = no guidance)")
        check_count("num_candidates", num_candidates)
        if num_candidates > 1 and self.image_reranker is None:
            raise PipelineInputError(f"`num_candidates` {num_candidates} needs a stage-1 reranker to "
                                     "choose among the candidates and this pipeline has none "
                                     "(image_reranker); use 1")
        patch = self.image_transformer.arch.patch_size
        for name, value, p in (("height", height, patch[1]), ("width", width, patch[2])):
            check_count(name, value)
            if value % p:
                raise PipelineInputError(f"`{name}` must be a positive multiple of the stage-1 patch "
                                         f"size {p}, got {value!r}")
        return self.check_video_inputs(batch=batch, image_shape=None, height=height, width=width,
                                       **kwargs)

    @torch.no_grad()
    def generate_content_image(self, text: torch.Tensor, text_mask: torch.Tensor, *,
                               negative: torch.Tensor | None, negative_mask: torch.Tensor | None,
                               num_inference_steps: int, guidance_scale: float, height: int,
                               width: int, num_candidates: int, generator=None) -> torch.Tensor:
        """Stage 1: text tokens (B, L, D) -> content images (B, 3, H, W) in [-1, 1]."""
        device = self._execution_device
        prompts_in = text.shape[0]
        if num_candidates > 1:                 # each prompt's rows repeated N times, in order
            text, text_mask = text.repeat_interleave(num_candidates, 0), text_mask.repeat_interleave(num_candidates, 0)
            if negative is not None:
                negative = negative.repeat_interleave(num_candidates, 0)
                negative_mask = negative_mask.repeat_interleave(num_candidates, 0)
        scheduler = self.image_scheduler
        scheduler.set_timesteps(num_inference_steps, device=device)
        latents = randn_tensor((text.shape[0], 3, 1, height, width), generator=generator,
                               device=device, dtype=torch.float32)                    # B*N 3 1 H W
        latents = latents * init_noise_sigma(scheduler)
        objective = make_objective(self.stage1_diffusion)
        dtype = self.image_transformer.dtype

        def denoise(noisy, timestep, return_dict: bool = False, **conditions):
            # the transformer, then the refiner if any, called the way guided_prediction calls a DiT
            prediction = self.image_transformer(noisy.to(dtype), timestep, return_dict=False,
                                                **conditions)[0]
            if self.image_refiner is not None:
                prediction = self.image_refiner(prediction, noisy, timestep)
            return (prediction,)

        with self.progress_bar(total=len(scheduler.timesteps)) as bar:
            for i, t in enumerate(scheduler.timesteps):
                model_input = scale_model_input(scheduler, latents, t)
                prediction = guided_prediction(denoise, model_input, t, text_scale=guidance_scale,
                                               negative_text=negative, negative_text_mask=negative_mask,
                                               text=text, text_mask=text_mask)
                prediction = objective.scheduler_prediction(prediction, model_input, t)
                latents = scheduler.step(prediction.float(), t, latents, generator=generator).prev_sample
                if not torch.isfinite(latents).all():
                    raise PipelineInputError(
                        f"the stage-1 image became NaN or infinite at step {i} of "
                        f"{len(scheduler.timesteps)} (timestep {float(t):g}); lower "
                        f"stage1_guidance_scale ({guidance_scale})")
                bar.update()
        images = latents[:, :, 0].clamp(-1.0, 1.0)                                 # B*N 3 H W
        if num_candidates == 1:
            return images
        _onload(self.image_reranker)
        scores = self.image_reranker(images.to(self.image_reranker.dtype), text, text_mask)  # B*N
        best = scores.view(prompts_in, num_candidates).argmax(1)                   # B
        return images.view(prompts_in, num_candidates, *images.shape[1:])[torch.arange(prompts_in), best]

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def __call__(
        self,
        prompt: str | Sequence[str] | None = None,
        negative_prompt: str | Sequence[str] | None = None,
        height: int | None = None,
        width: int | None = None,
        num_frames: int = 16,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        image_guidance_scale: float | None = None,
        stage1_num_inference_steps: int | None = None,
        stage1_guidance_scale: float | None = None,
        num_candidates: int | None = None,
        num_videos_per_prompt: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        output_type: str = "np",
        return_dict: bool = True,
        callback_on_step_end: Callback | None = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
        image_position: str = "middle",
    ):
        """Generate a video from text: stage 1 draws the content image (the clip's MIDDLE frame,
        7 of 16, or its frame 0 with image_position="first"), the video stage animates it. Each of
        the `num_videos_per_prompt` videos gets its own image.

        Args (the video stage's as in ReducioImageToVideoPipeline.__call__), and:
            height, width: the video size (None = the stage-1 size, config.stage1_image_size).
            stage1_num_inference_steps, stage1_guidance_scale: stage-1 sampling (None = defaults).
            num_candidates: content images sampled per video, the one the reranker scores best
                kept (None = config.stage1_num_candidates; 1 = no reranking).
            image_position: "middle" (default) or "first" (the stage-1 image is frame 0, one
                window more to generate), as in ReducioImageToVideoPipeline.__call__.
        Returns:
            ReducioPipelineOutput; `content_frames` holds the stage-1 images, `timings` adds
            "text_to_image".
        """
        start = time.perf_counter()
        c = self.config
        num_inference_steps, guidance_scale, image_guidance_scale = self._resolve_defaults(
            num_inference_steps, guidance_scale, image_guidance_scale)
        stage1_num_inference_steps = (c.stage1_num_inference_steps if stage1_num_inference_steps is None
                                      else stage1_num_inference_steps)
        stage1_guidance_scale = c.stage1_guidance_scale if stage1_guidance_scale is None else stage1_guidance_scale
        num_candidates = c.stage1_num_candidates if num_candidates is None else num_candidates
        height = c.stage1_image_size if height is None else height
        width = c.stage1_image_size if width is None else width
        self._interrupt = False

        # 1. Check everything before spending time on stage 1
        plan = self.check_inputs(
            prompt, stage1_num_inference_steps=stage1_num_inference_steps,
            stage1_guidance_scale=stage1_guidance_scale, num_candidates=num_candidates,
            height=height, width=width, num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale, image_guidance_scale=image_guidance_scale,
            num_frames=num_frames, num_videos_per_prompt=num_videos_per_prompt,
            output_type=output_type, prompt_embeds=None, prompt_attention_mask=None,
            negative_prompt=negative_prompt, latents=latents,
            callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
            image_position=image_position)
        device = self._execution_device
        n = num_videos_per_prompt
        prompts = [p for p in as_prompt_list(prompt) for _ in range(n)]
        negatives = None
        if negative_prompt is not None:
            negatives = as_prompt_list(negative_prompt, "negative_prompt")
            negatives = [q for q in negatives * (len(prompts) // n if len(negatives) == 1 else 1)
                         for _ in range(n)]

        # 2. Encode the prompts once; both stages read the same text encoder's tokens
        timings: dict[str, float] = {"text_to_image": 0.0, "conditions": 0.0, "denoise": 0.0,
                                     "decode": 0.0}
        with _timed(timings, "conditions", device):
            text, text_mask, negative, negative_mask = self.encode_prompt(
                prompts, negative_prompt=negatives, device=device)

        # 3. Stage 1: text -> content image (one per video)
        with _timed(timings, "text_to_image", device):
            content_image = self.generate_content_image(
                text, text_mask, negative=negative, negative_mask=negative_mask,
                num_inference_steps=stage1_num_inference_steps, guidance_scale=stage1_guidance_scale,
                height=height, width=width, num_candidates=num_candidates, generator=generator)

        # 4.-8. The video stage around that image
        videos, all_latents = self._generate_video(
            content_image, plan=plan, text=text, text_mask=text_mask, negative=negative,
            negative_mask=negative_mask, num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale, image_guidance_scale=image_guidance_scale,
            generator=generator, latents=latents, callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
            output_type=output_type, renormalize_latents=True, timings=timings)
        timings["total"] = time.perf_counter() - start
        return self._output(videos, all_latents, plan, output_type, content_image.cpu(), timings,
                            return_dict)


__all__ = ["ReducioTextToVideoPipeline", "stage1_components"]
