"""Image + text -> video with Reducio-DiT and Reducio-VAE (stage 2 of the paper's generation).

    pipe = ReducioImageToVideoPipeline.from_pretrained("path/to/pipeline")
    out = pipe(image, "a red circle moving right on a black background",
               generator=torch.Generator().manual_seed(0))
    export_to_video(out.frames[0], "out.mp4", fps=16)

The image becomes the CONTENT FRAME, which is the MIDDLE frame of the clip (`vae.content_frame_index`:
frame 7 of a 16-frame clip), not frame 0. Reducio-VAE decodes every window around its middle frame
(docs/architecture.md §1, paper Table 3: middle >> random >> none), and the DiT is trained on that frame's
conditions, so the generated clip shows the image at frame 7 with 7 frames before it (the motion
leading up to the picture) and 8 after. Users of other image-to-video models (SVD, I2VGen-XL,
DynamiCrafter) expect the image as the first frame: pass image_position="first" for that. The
model still decodes around the image as its middle frame; the pipeline then keeps the frames from
the image on and extends the clip forward with one more overlapping window (long_video.py), so
frame 0 is the image as the VAE rebuilds it and the clip costs one window more.
"""

import time
from collections.abc import Sequence
from typing import Any

import torch
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from reducio.errors import PipelineInputError
from reducio.models.dit import ReducioDiT
from reducio.models.vae import ReducioVAE
from reducio.pipelines.base import Callback, ReducioVideoPipeline, _timed, repeat_videos
from reducio.pipelines.images import ImageInput, as_prompt_list, prepare_image


class ReducioImageToVideoPipeline(ReducioVideoPipeline):
    """Reducio-VAE + Reducio-DiT + text encoder + image encoders + a diffusers scheduler.

    Args:
        vae: ReducioVAE (decodes the motion latent around the content frame).
        transformer: ReducioDiT over the VAE's layer-normed latent (in_channels = latent_channels).
        scheduler: a diffusers scheduler sampling `diffusion_config`'s objective
            (`reducio.diffusion.make_scheduler`).
        text_encoder, tokenizer: a transformers encoder (T5, or the packaged MiniLM's BertModel)
            whose width equals transformer.config.text_dim, and its tokenizer.
        semantic_encoder: a transformers CLIPVisionModel, or None (then `semantic_encoder_config`
            may name the weightless PatchPixelSemanticEncoder; an encoder object of that class
            is stored as its settings).
        content_encoder: a diffusers AutoencoderKL (SD VAE), or None / a PooledRGBContentEncoder
            (stored as `content_encoder_config`).
        diffusion_config: the DiffusionConfig (or its dict) the transformer was trained with;
            None = the default for its prediction_type.
        max_sequence_length, clean_caption: how prompts are tokenised (MiniLM 64, T5 120).
        default_*: sampling defaults (steps None = the sampler's default; text guidance 4.5,
            PixArt-alpha's; image guidance 1.0 = off, the content frame is a strong condition).
        component_sources: components the saved folder names instead of holding ("minilm" for
            the packaged text encoder, a VAE name): see `from_pretrained`.
        shapes_world_prompts: the model is one of the synthetic shapes world (the built-in one):
            prompts are normalised to the world's canonical captions, and a prompt outside the
            world is named in a warning.
    """

    model_cpu_offload_seq = "text_encoder->semantic_encoder->content_encoder->transformer->vae"

    # Real classes, not strings (no `from __future__ import annotations` here): diffusers'
    # `from_pipe` reads these annotations to decide which components a new pipeline can share.
    def __init__(self, vae: ReducioVAE, transformer: ReducioDiT, scheduler: SchedulerMixin,
                 text_encoder: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                 semantic_encoder: torch.nn.Module | None = None,
                 content_encoder: torch.nn.Module | None = None, *,
                 diffusion_config: Any = None, semantic_encoder_config: dict | None = None,
                 content_encoder_config: dict | None = None, max_sequence_length: int = 64,
                 clean_caption: bool = True, default_num_inference_steps: int | None = None,
                 default_guidance_scale: float = 4.5, default_image_guidance_scale: float = 1.0,
                 default_fps: int = 16, component_sources: dict | None = None,
                 shapes_world_prompts: bool = False) -> None:
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
        self.check_components()

    def check_inputs(self, prompt, image: torch.Tensor, **kwargs: Any):
        """PipelineInputError naming the argument, the rule and the value; returns the window plan."""
        prompt_embeds = kwargs["prompt_embeds"]
        if prompt is not None and prompt_embeds is not None:
            raise PipelineInputError("pass either `prompt` or `prompt_embeds`, not both (got "
                                     f"prompt={prompt!r} and prompt_embeds of shape "
                                     f"{tuple(prompt_embeds.shape)})")
        if prompt is None and prompt_embeds is None:
            raise PipelineInputError("pass `prompt` (a string or list of strings) or `prompt_embeds`; "
                                     "got neither")
        batch = prompt_embeds.shape[0] if prompt_embeds is not None else len(as_prompt_list(prompt))
        if image.shape[0] not in (1, batch):
            raise PipelineInputError(f"`image` holds {image.shape[0]} images for {batch} prompt(s); "
                                     "pass one image, or one per prompt")
        return self.check_video_inputs(batch=batch, image_shape=tuple(image.shape[-2:]), **kwargs)

    @torch.no_grad()
    def __call__(
        self,
        image: ImageInput = None,
        prompt: str | Sequence[str] | None = None,
        negative_prompt: str | Sequence[str] | None = None,
        height: int | None = None,
        width: int | None = None,
        num_frames: int = 16,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        image_guidance_scale: float | None = None,
        num_videos_per_prompt: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        prompt_embeds: torch.Tensor | None = None,
        prompt_attention_mask: torch.Tensor | None = None,
        output_type: str = "np",
        return_dict: bool = True,
        callback_on_step_end: Callback | None = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
        renormalize_latents: bool = True,
        image_position: str = "middle",
    ):
        """Generate `num_frames` frames around `image` (the MIDDLE frame of each clip, `vae.content_frame_index`),
        or from it (image_position="first").

        Args:
            image: the content frame: (B, 3, H, W) / (3, H, W) float in [-1, 1], uint8 tensor, PIL
                image, uint8 array or a list; H, W multiples of 32. It becomes frame 7 of the
                16-frame clip (not frame 0). The video has the image's size.
            prompt: one string or one per image (or `prompt_embeds` + `prompt_attention_mask`).
            negative_prompt: text used instead of the learned null text in the guidance passes.
            height, width: optional; must equal the image's size (nothing is resized).
            num_frames: 16, or 16 + 8 k for longer clips generated window by window.
            num_inference_steps: sampler steps (None = the pipeline default).
            guidance_scale: text classifier-free guidance (1 or below = off); image_guidance_scale:
                image guidance (1 or below = off).
            num_videos_per_prompt: videos per prompt (same image, different noise).
            generator: seeds the starting noise (and stochastic sampler steps).
            latents: starting noise (B * num_videos_per_prompt, C, n_windows * t, h, w);
                image_position="first" takes one window more than "middle".
            output_type: "np" | "pt" | "pil" | "latent" (pipelines/pipeline_output.py). With
                image_position="first", "latent" returns the latents of every window generated,
                one window more than "middle": decoding window 0
                (`vae.decode(latents[:, :, :t], content_frames)`) gives 16 frames whose frames
                7..15 are the clip's frames 0..8; frames 0..6 are not part of the clip.
            return_dict: False returns (frames,), or (latents, content_frames) for "latent".
            callback_on_step_end: f(pipe, step, timestep, {name: tensor}) -> dict, called after
                each sampler step (of each window: `pipe.current_window`); a returned "latents"
                replaces the current latents.
            callback_on_step_end_tensor_inputs: the names passed ("latents", "prompt_embeds").
            renormalize_latents: apply `vae.normalize_latent` to the final latent before decoding.
            image_position: "middle" (default): the image is frame 7 of the clip, with the motion
                leading up to it before it, as the model is trained. "first": the image is frame
                0 and the clip moves forward from it; the windows are those of a clip 8 frames
                longer with the image in the middle, less its first 7 frames and its last one
                (one more window to generate: 2 for 16 frames). Window k >= 1 is conditioned on
                clip frame 8 k.
        Returns:
            ReducioPipelineOutput(frames, content_frames, latents, timings).
        """
        timings: dict[str, float] = {"conditions": 0.0, "denoise": 0.0, "decode": 0.0}
        start = time.perf_counter()
        num_inference_steps, guidance_scale, image_guidance_scale = self._resolve_defaults(
            num_inference_steps, guidance_scale, image_guidance_scale)
        self._interrupt = False

        # 1. Check the inputs (the image first becomes a (B, 3, H, W) tensor in [-1, 1])
        if image is None:
            raise PipelineInputError("`image` is required: the content frame the clip is built around "
                                     "(ReducioTextToVideoPipeline draws it from the prompt)")
        image = prepare_image(image)
        plan = self.check_inputs(
            prompt, image, num_inference_steps=num_inference_steps, guidance_scale=guidance_scale,
            image_guidance_scale=image_guidance_scale, num_frames=num_frames,
            num_videos_per_prompt=num_videos_per_prompt, output_type=output_type,
            prompt_embeds=prompt_embeds, prompt_attention_mask=prompt_attention_mask,
            negative_prompt=negative_prompt, latents=latents,
            callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
            height=height, width=width, image_position=image_position)
        device = self._execution_device

        # 2. Encode the prompt; repeat prompts and images for num_videos_per_prompt
        with _timed(timings, "conditions", device):
            text, text_mask, negative, negative_mask = self.encode_prompt(
                prompt, negative_prompt=negative_prompt, prompt_embeds=prompt_embeds,
                prompt_attention_mask=prompt_attention_mask, device=device)
        n = num_videos_per_prompt
        text, text_mask = repeat_videos(text, n), repeat_videos(text_mask, n)
        negative = None if negative is None else repeat_videos(negative, n)
        negative_mask = None if negative_mask is None else repeat_videos(negative_mask, n)
        image = image.expand(text.shape[0] // n, -1, -1, -1) if image.shape[0] == 1 else image
        content_image = repeat_videos(image.to(device), n)                            # B 3 H W

        # 3.-7. Windows: conditions, denoise, decode
        videos, all_latents = self._generate_video(
            content_image, plan=plan, text=text, text_mask=text_mask, negative=negative,
            negative_mask=negative_mask, num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale, image_guidance_scale=image_guidance_scale,
            generator=generator, latents=latents, callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
            output_type=output_type, renormalize_latents=renormalize_latents, timings=timings)
        timings["total"] = time.perf_counter() - start
        return self._output(videos, all_latents, plan, output_type, content_image.cpu(), timings,
                            return_dict)


__all__ = ["ReducioImageToVideoPipeline"]
