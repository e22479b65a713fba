"""Text -> video in two stages (paper, abstract): text -> content image, then image + text -> video.

Stage 1 is either the small built-in generator (`ReducioStage1Generator`, trained on the shapes
world, offline) or any diffusers text-to-image pipeline by id or folder
(`DiffusersImageGenerator`, e.g. PixArt-alpha or SDXL for full scale). Stage 2 is
`ReducioImageToVideoPipeline`: the generated image becomes the MIDDLE frame (frame 7 of 16) of
the clip.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from reducio.errors import CheckpointError, ModelNotFoundError, PipelineInputError
from reducio.pipelines.image_to_video import Callback, ReducioImageToVideoPipeline
from reducio.pipelines.images import as_prompt_list
from reducio.pipelines.output import ReducioPipelineOutput
from reducio.pipelines.stage1 import ReducioStage1Generator


class DiffusersImageGenerator:
    """A diffusers text-to-image pipeline behind the stage-1 interface.

    `gen(prompts, generator=, num_inference_steps=, guidance_scale=, height=, width=)` ->
    (B, 3, H, W) in [-1, 1]. Arguments left as None keep the diffusers pipeline's defaults.
    """

    default_size: int | None = None  # the wrapped pipeline picks its own resolution

    def __init__(self, pipe: Any, path_or_id: str | None = None) -> None:
        self.pipe = pipe
        self.path_or_id = path_or_id
        self._offloaded = False

    @classmethod
    def from_pretrained(cls, path_or_id: str | os.PathLike, *, torch_dtype: torch.dtype | None = None,
                        device: torch.device | str | None = None, local_files_only: bool = False,
                        **kwargs: Any) -> DiffusersImageGenerator:
        """`diffusers.DiffusionPipeline.from_pretrained(path_or_id)`; offline, the model must be a
        local folder or already in the Hugging Face cache."""
        from diffusers import DiffusionPipeline
        from huggingface_hub import constants

        # The hub library reads HF_HUB_OFFLINE once at import; honour a later change too.
        offline = (local_files_only or bool(constants.HF_HUB_OFFLINE)
                   or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"))
        dtype_kwargs = {"torch_dtype": torch_dtype} if torch_dtype is not None else {}
        try:
            pipe = DiffusionPipeline.from_pretrained(os.fspath(path_or_id), local_files_only=offline,
                                                     **dtype_kwargs, **kwargs)
        except Exception as error:  # missing / offline / gated / not a pipeline: all need the same fix
            local = f"checkpoints/{str(path_or_id).rstrip('/').split('/')[-1]}"
            raise ModelNotFoundError(
                f"cannot load the text-to-image pipeline {str(path_or_id)!r} "
                f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}). "
                f"Without network only local folders and the Hugging Face cache work; on a machine "
                f"with network run `hf download {path_or_id} --local-dir {local}` and pass "
                f"--stage1 {local}, or omit the stage-1 model to use the built-in generator."
            ) from error
        if device is not None:
            pipe.to(device)
        return cls(pipe, os.fspath(path_or_id))

    def reference(self) -> dict[str, str]:
        if not self.path_or_id:
            raise CheckpointError("this DiffusersImageGenerator does not know where its pipeline came "
                                  "from; pass save_pretrained(..., references={'stage1': {'class': "
                                  "'DiffusersImageGenerator', 'path_or_id': ...}})")
        return {"class": "DiffusersImageGenerator", "path_or_id": self.path_or_id}

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        if self._offloaded and hasattr(self.pipe, "remove_all_hooks"):
            self.pipe.remove_all_hooks()  # diffusers refuses .to() while its offload hooks are on
            self._offloaded = False
        self.pipe.to(device=device, dtype=dtype)
        return self

    def enable_model_cpu_offload(self, device: torch.device | str = "cuda") -> DiffusersImageGenerator:
        """diffusers' own model offload of the wrapped text-to-image pipeline."""
        self.pipe.enable_model_cpu_offload(device=device)
        self._offloaded = True
        return self

    @torch.no_grad()
    def __call__(self, prompt: str | Sequence[str], *, generator: torch.Generator | None = None,
                 num_inference_steps: int | None = None, guidance_scale: float | None = None,
                 height: int | None = None, width: int | None = None,
                 negative_prompt: str | Sequence[str] | None = None,
                 progress: bool = True) -> torch.Tensor:
        kwargs = {k: v for k, v in dict(num_inference_steps=num_inference_steps,
                                        guidance_scale=guidance_scale, height=height, width=width,
                                        negative_prompt=negative_prompt).items() if v is not None}
        if hasattr(self.pipe, "set_progress_bar_config"):
            self.pipe.set_progress_bar_config(disable=not progress, desc="text-to-image")
        images = self.pipe(prompt=as_prompt_list(prompt), generator=generator, output_type="pt",
                           **kwargs).images                                      # B 3 H W in [0, 1]
        images = torch.as_tensor(images)
        if images.ndim != 4 or images.shape[1] != 3:
            raise PipelineInputError(f"the text-to-image pipeline returned images of shape "
                                     f"{tuple(images.shape)}; expected (B, 3, H, W)")
        return (images.float() * 2.0 - 1.0).clamp(-1.0, 1.0)


def load_stage1(folder: Path, entry: list, *, text_encoder=None, device=None, torch_dtype=None,
                local_files_only: bool = False):
    """The stage-1 generator of a pipeline folder (model_index entry `entry`)."""
    import json

    library, name = entry
    if library == "reducio" and name == "ReducioStage1Generator":
        stage1 = ReducioStage1Generator.from_pretrained(folder, torch_dtype=torch_dtype, device=device)
        if text_encoder is not None and _same_text_encoder(stage1, text_encoder):
            stage1.set_text_encoder(text_encoder)
        return stage1
    if library == "diffusers" and name == "DiffusersImageGenerator":
        reference = json.loads((folder / "reference.json").read_text())
        return DiffusersImageGenerator.from_pretrained(reference["path_or_id"], torch_dtype=torch_dtype,
                                                       device=device, local_files_only=local_files_only)
    raise CheckpointError(f"unknown stage-1 component {entry!r}; valid: ['reducio', "
                          "'ReducioStage1Generator'] or ['diffusers', 'DiffusersImageGenerator']")


def _same_text_encoder(stage1: ReducioStage1Generator, encoder: Any) -> bool:
    """Whether the video stage's text encoder is the one stage 1 was trained with (then share it)."""
    from reducio.conditioning import MiniLMTextEncoder
    from reducio.pipelines.components import REFERENCE_ATTR

    wanted = stage1.config.text_encoder
    if encoder.dim != stage1.config.dit.text_dim:
        return False
    if wanted == "minilm":
        return isinstance(encoder, MiniLMTextEncoder)
    return (getattr(encoder, REFERENCE_ATTR, None) or {}).get("path_or_id") == wanted


class ReducioTextToVideoPipeline:
    """Stage 1 (text -> content image) + ReducioImageToVideoPipeline (image + text -> video)."""

    def __init__(self, image_pipeline: ReducioImageToVideoPipeline,
                 stage1: ReducioStage1Generator | DiffusersImageGenerator) -> None:
        self.image_pipeline = image_pipeline
        self.stage1 = stage1
        if isinstance(stage1, ReducioStage1Generator) and stage1._text_encoder is None \
                and _same_text_encoder(stage1, image_pipeline.text_encoder):
            stage1.set_text_encoder(image_pipeline.text_encoder)
        self._progress: dict[str, Any] = {}

    @classmethod
    def from_components(cls, *, vae, dit, stage1, text_encoder=None, semantic_encoder=None,
                        content_encoder=None, scheduler=None, diffusion_config=None,
                        defaults=None) -> ReducioTextToVideoPipeline:
        """Assemble from trained parts (objects or folders / files for the VAE, DiT and stage 1).

        Encoders default to the built-in ones (MiniLM, 8x8 pixel patches, pooled RGB) when the
        DiT's widths match them (the `tiny` and `small` presets)."""
        from reducio.conditioning import PatchPixelSemanticEncoder, PooledRGBContentEncoder
        from reducio.models.dit import ReducioDiT
        from reducio.models.vae import ReducioVAE
        from reducio.pipelines.components import load_text_encoder

        vae = vae if isinstance(vae, torch.nn.Module) else ReducioVAE.from_pretrained(vae)
        dit = dit if isinstance(dit, torch.nn.Module) else ReducioDiT.from_pretrained(dit)
        if not isinstance(stage1, (ReducioStage1Generator, DiffusersImageGenerator)):
            path = Path(stage1)
            stage1 = (ReducioStage1Generator.from_pretrained(path) if (path / "config.json").is_file()
                      else DiffusersImageGenerator.from_pretrained(stage1))
        text_encoder = text_encoder if text_encoder is not None else load_text_encoder("minilm")
        if semantic_encoder is None and dit.config.semantic_dim == 192:
            semantic_encoder = PatchPixelSemanticEncoder()
        if content_encoder is None and dit.config.content_channels == 3:
            content_encoder = PooledRGBContentEncoder()
        i2v = ReducioImageToVideoPipeline(vae, dit, text_encoder, semantic_encoder, content_encoder,
                                          scheduler, diffusion_config, defaults=defaults)
        return cls(i2v, stage1)

    # ------------------------------------------------------------------ plumbing
    @property
    def components(self) -> dict[str, Any]:
        return {**self.image_pipeline.components, "stage1": self.stage1}

    @property
    def device(self) -> torch.device:
        return self.image_pipeline.device

    @property
    def defaults(self):
        return self.image_pipeline.defaults

    def to(self, device: torch.device | str | None = None,
           dtype: torch.dtype | None = None) -> ReducioTextToVideoPipeline:
        self.image_pipeline.to(device=device, dtype=dtype)
        self.stage1.to(device=device, dtype=dtype)
        return self

    def enable_model_cpu_offload(self, device: torch.device | str = "cuda", *,
                                 keep_cpu_copy: bool = False) -> ReducioTextToVideoPipeline:
        """Every model in CPU memory, each moved to `device` only for its stage (stage 1 included:
        a diffusers text-to-image pipeline through its own `enable_model_cpu_offload`).
        keep_cpu_copy: see ReducioImageToVideoPipeline.enable_model_cpu_offload."""
        self.image_pipeline.enable_model_cpu_offload(device, keep_cpu_copy=keep_cpu_copy)
        if isinstance(self.stage1, DiffusersImageGenerator):
            self.stage1.enable_model_cpu_offload(device)
        else:
            self.stage1.to("cpu")
        return self

    def set_progress_bar_config(self, **kwargs: Any) -> None:
        self._progress.update(kwargs)
        self.image_pipeline.set_progress_bar_config(**kwargs)

    def save_pretrained(self, directory: str | Path, *, references: dict | None = None) -> Path:
        from reducio.pipelines.loading import save_pipeline

        return save_pipeline(self, directory, references=references)

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, *, device: torch.device | str | None = None,
                        torch_dtype: torch.dtype | str | None = None,
                        local_files_only: bool = False) -> ReducioTextToVideoPipeline:
        """Load a text-to-video pipeline folder; None or "builtin" = the packaged default."""
        from reducio.pipelines.loading import load_pipeline, resolve_pipeline_dir

        pipe = load_pipeline(path, device=device, torch_dtype=torch_dtype,
                             local_files_only=local_files_only)
        if not isinstance(pipe, cls):
            raise CheckpointError(f"{resolve_pipeline_dir(path)} holds an image-to-video pipeline (no "
                                  "stage-1 generator); load it with ReducioImageToVideoPipeline")
        return pipe

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def __call__(
        self,
        prompt: str | Sequence[str],
        *,
        negative_prompt: str | Sequence[str] | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        image_guidance_scale: float | None = None,
        stage1_steps: int | None = None,
        stage1_guidance_scale: float | None = None,
        stage1_candidates: int | None = None,
        height: int | None = None,
        width: int | None = None,
        generator: torch.Generator | None = None,
        latents: torch.Tensor | None = None,
        num_videos_per_prompt: int = 1,
        num_frames: int = 16,
        callback_on_step_end: Callback | None = None,
        output_type: str = "pt",
    ) -> ReducioPipelineOutput:
        """Generate a video from text: stage 1 draws the content image (the clip's MIDDLE frame,
        7 of 16), stage 2 animates it. Each of the `num_videos_per_prompt` videos gets its own image.

        Args (stage 2 ones as in ReducioImageToVideoPipeline.__call__):
            stage1_steps, stage1_guidance_scale: stage-1 sampling (None = its defaults).
            stage1_candidates: content images sampled per video, the one the built-in stage 1's
                reranker scores best kept (None = its default; built-in generators only).
            height, width: the video size, multiples of 32 (None = stage 1's default size).
        Returns:
            ReducioPipelineOutput; `images` holds the stage-1 images, `timings` adds
            "text_to_image".
        """
        start = time.perf_counter()
        # 1. Check what stage 1 needs before spending time on it
        prompts = as_prompt_list(prompt)
        if not isinstance(num_videos_per_prompt, int) or num_videos_per_prompt < 1:
            raise PipelineInputError(f"`num_videos_per_prompt` must be an integer >= 1, got "
                                     f"{num_videos_per_prompt!r}")
        default = getattr(self.stage1, "config", None)
        default_size = default.image_size if default is not None else self.stage1.default_size
        height = default_size if height is None else height
        width = default_size if width is None else width
        s = self.image_pipeline.vae.config.space_downsample
        for name, value in (("height", height), ("width", width)):
            if value is not None and (not isinstance(value, int) or value < s or value % s):
                raise PipelineInputError(f"`{name}` must be a positive multiple of {s} (the VAE's "
                                         f"spatial factor), got {value!r}; use "
                                         f"{max(int(value or 0) // s, 1) * s}")
        negatives = None
        if negative_prompt is not None:
            negatives = as_prompt_list(negative_prompt, "negative_prompt")
            if len(negatives) not in (1, len(prompts)):
                raise PipelineInputError(f"`negative_prompt` holds {len(negatives)} prompts for "
                                         f"{len(prompts)} prompt(s); pass one, or one per prompt")
            negatives = [n for n in negatives * (len(prompts) if len(negatives) == 1 else 1)
                         for _ in range(num_videos_per_prompt)]
        prompts = [p for p in prompts for _ in range(num_videos_per_prompt)]

        stage1_options = {}
        if stage1_candidates is not None:
            if not isinstance(self.stage1, ReducioStage1Generator):
                raise PipelineInputError(f"`stage1_candidates` {stage1_candidates!r} needs the built-in "
                                         f"stage-1 generator (it reranks with its stored matcher); "
                                         f"this stage 1 is {type(self.stage1).__name__}: leave it out")
            stage1_options["num_candidates"] = stage1_candidates

        # 2. Stage 1: text -> content image (one per video)
        begin = time.perf_counter()
        if isinstance(self.stage1, ReducioStage1Generator):
            self.image_pipeline._use(self.stage1, self.stage1.text_encoder)  # a no-op without offload
        images = self.stage1(prompts, generator=generator, num_inference_steps=stage1_steps,
                             guidance_scale=stage1_guidance_scale, height=height, width=width,
                             negative_prompt=negatives, **stage1_options,
                             progress=not self._progress.get("disable", False))    # B 3 H W
        if images.device.type == "cuda":
            torch.cuda.synchronize(images.device)
        text_to_image = time.perf_counter() - begin

        # 3. Stage 2: image + text -> video around the image
        out = self.image_pipeline(
            images, prompts, negative_prompt=negatives, num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale, image_guidance_scale=image_guidance_scale,
            generator=generator, latents=latents, num_frames=num_frames,
            callback_on_step_end=callback_on_step_end, output_type=output_type)
        out.timings = {"text_to_image": text_to_image, **out.timings,
                       "total": time.perf_counter() - start}
        return out


__all__ = ["DiffusersImageGenerator", "ReducioTextToVideoPipeline", "load_stage1"]
