"""The demo's event handlers: plain functions of the inputs, testable without a browser.

Each handler returns file paths and Markdown for the page. Every error a person can cause
(no upload, unreadable or oversized file, a clip too long, an edited frame of the wrong size, a
bad number) is raised as `gradio.Error`, whose message the page shows; any other exception is
logged here with its traceback and shown as a short message without one.
"""

from __future__ import annotations

import functools
import logging
import math
from pathlib import Path
from typing import Any

import gradio as gr
import torch
from PIL import Image

from reducio.cli.vae_io import builtin_vae_note, read_clip
from reducio.data.reconstruction import compression_factors, reconstruct_clip
from reducio.data.synthetic.vocab import normalize_prompt, outside_world
from reducio.data.video_io import read_video, side_by_side, to_uint8_frames, write_video
from reducio.demo.models import Models, vae_args
from reducio.demo.settings import DemoSettings, pipeline_defaults
from reducio.demo.uploads import (DemoInputError, Workdir, check_clip, check_frame_size, check_image,
                                  upload_name, upload_path)
from reducio.errors import ReducioError
from reducio.eval.reconstruction import psnr, ssim
from reducio.pipelines import has_stage1

logger = logging.getLogger(__name__)


def user_errors(fn):
    """Turn reducio's errors into gradio.Error (shown on the page, no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except ReducioError as error:
            raise gr.Error(str(error), duration=None, print_exception=False) from None
        except Exception as error:  # a bug or an environment problem: keep the trace in the log
            logger.exception("demo handler %s failed", fn.__name__)
            raise gr.Error(f"the demo failed ({type(error).__name__}); the server log has the "
                           "details", duration=None, print_exception=False) from None

    return wrapper


def check_prompt(prompt: Any, builtin: bool) -> tuple[str, str | None]:
    """(the prompt to use, a warning or None). The built-in pipeline reads only the shapes world's
    captions: its prompts are normalised as the pipeline does (`shapes_world_prompts`), and one
    outside the world gets a warning on the page naming the unknown words (the video is still made)."""
    text = str(prompt or "").strip()
    if not text:
        raise DemoInputError("type a prompt, e.g. 'a red circle moving right on a black background'")
    if not builtin:
        return text, None
    problem = outside_world(text)
    if problem is None:
        return normalize_prompt(text), None
    return normalize_prompt(text), (
        f"The built-in pipeline is a 64 px model of the synthetic shapes world and understands only "
        f"its prompts, e.g. 'a red circle moving right on a black background'. '{text}' is outside it "
        f"({problem}), so expect an arbitrary shapes clip.")


def check_int(value: Any, name: str, low: int, high: int) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number != int(number) or not low <= number <= high:
        raise DemoInputError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return int(number)


class DemoHandlers:
    """The handlers of one app, sharing its models, settings and result folder."""

    def __init__(self, settings: DemoSettings, models: Models | None = None, workdir: Workdir | None = None):
        self.settings = settings
        self.models = models or Models(settings)
        self.workdir = workdir or Workdir(max_age_s=settings.cache_minutes * 60)
        self.defaults = pipeline_defaults(settings.pipeline)

    # ------------------------------------------------------------------------ text to video

    @user_errors
    def text_to_video(self, prompt, seed, steps, stage1_steps, progress=gr.Progress()):
        if not has_stage1(self.settings.pipeline):
            raise DemoInputError(f"the pipeline {self.settings.pipeline} has no stage-1 image generator "
                                 "(image-to-video only): use the Image to video tab")
        prompt, warning = check_prompt(prompt, self.settings.builtin_pipeline)
        seed = check_int(seed, "seed", 0, 2**32 - 1)
        steps = check_int(steps, "steps", 1, self.settings.max_steps)
        stage1_steps = check_int(stage1_steps, "stage-1 steps", 1, self.settings.max_steps)
        if warning:
            gr.Warning(warning)
        progress(0.0, desc="loading the text-to-video pipeline")
        pipe = self.models.text_to_video()
        progress(0.0, desc=f"stage 1: drawing the content image ({_count(stage1_steps, 'step')})")
        out = pipe(prompt, num_inference_steps=steps, stage1_num_inference_steps=stage1_steps,
                   generator=torch.Generator().manual_seed(seed), output_type="pt",
                   callback_on_step_end=_step_progress(progress, steps, "video stage"))
        path = self._write_frames(out.frames[0], pipe, "text-to-video")
        return str(path), _message(warning, _video_note(out.frames[0], pipe, out.timings))

    # ----------------------------------------------------------------------- image to video

    @user_errors
    def image_to_video(self, image, prompt, seed, steps, progress=gr.Progress()):
        path, name = upload_path(image, "an image"), upload_name(image)
        s = self.settings
        check_image(path, name, s.max_upload_bytes, s.max_side)
        prompt, warning = check_prompt(prompt, s.builtin_pipeline)
        seed = check_int(seed, "seed", 0, 2**32 - 1)
        steps = check_int(steps, "steps", 1, s.max_steps)
        if warning:
            gr.Warning(warning)
        size = s.size if s.size is not None else self.defaults["size"]
        # resized on its short side and centre-cropped, as `reducio generate --image --size` does
        frame = _read(lambda: read_video(path, num_frames=1, size=size)[:, 0], path, name)  # 3 H W
        progress(0.0, desc="loading the image-to-video pipeline")
        pipe = self.models.image_to_video()
        out = pipe(frame[None], prompt, num_inference_steps=steps, output_type="pt",
                   generator=torch.Generator().manual_seed(seed),
                   callback_on_step_end=_step_progress(progress, steps, "video stage"))
        video_path = self._write_frames(out.frames[0], pipe, "image-to-video")
        _, height, width = frame.shape
        note = (f"Your image, resized and centre-cropped to {width}x{height}, is the middle frame "
                f"(frame {pipe.vae.content_frame_index(pipe.vae.num_frames)} of "
                f"{pipe.vae.arch.frames}) of the clip. " + _video_note(out.frames[0], pipe, out.timings))
        return str(video_path), _message(warning, note)

    # -------------------------------------------------------------------------- reconstruct

    @user_errors
    def reconstruct(self, clip, progress=gr.Progress()):
        path, name = upload_path(clip, "a clip"), upload_name(clip)
        s = self.settings
        check_clip(path, name, s.max_upload_bytes, s.max_seconds, s.max_side)
        args = vae_args(s)
        video = _read(lambda: read_clip(path, args), path, name)                   # 3 T H W
        progress(0.0, desc="loading the VAE")
        vae, vae_warning = self.models.vae()
        _, frames, height, width = video.shape
        windows = math.ceil(frames / vae.config.frames)
        done = [0]

        def advance(n: int) -> None:
            done[0] += n
            progress((done[0], windows), desc="encoding and decoding", unit="windows")

        progress((0, windows), desc="encoding and decoding", unit="windows")
        recon = reconstruct_clip(vae, video, progress=advance)
        p, q = float(psnr(recon, video)), float(ssim(recon, video))
        factors = compression_factors(vae, height, width)
        out = write_video(self.workdir.new_file("reconstruction"), side_by_side(video, recon), fps=args.fps)
        c, t, h, w = factors.latent_shape
        note = builtin_vae_note(s.vae, [path])
        table = (f"**{name}**: {frames} frames at {args.fps:g} fps, {width}x{height} "
                 f"(left: original, right: reconstruction)\n\n"
                 f"| PSNR | SSIM | compression |\n|---|---|---|\n"
                 f"| {p:.2f} dB | {q:.4f} | {factors.positions:,.0f}x fewer positions, "
                 f"{factors.values:,.0f}x fewer values |\n\n"
                 f"Motion latent {c}x{t}x{h}x{w} per {vae.config.frames}-frame window; each window "
                 f"also keeps one content frame, which the factors leave out.")
        notes = [text.replace(str(path), name) for text in (vae_warning, note) if text]
        return str(out), "\n\n".join([table, _message(*notes, None)] if notes else [table])

    # --------------------------------------------------------------------- edit by one frame

    @user_errors
    def edit_frame(self, clip, progress=gr.Progress()):
        """The clip's content frame as a PNG, for the person to edit."""
        video, name = self._edit_clip(clip)
        pipe = self._edit_pipeline(video, name, progress)
        frame = pipe.content_frame(video[None])[0].float().cpu()                     # 3 H W
        path = self.workdir.new_file("frame-to-edit", ".png")
        Image.fromarray(to_uint8_frames(frame[:, None].clamp(-1, 1))[0]).save(path)
        _, height, width = frame.shape
        return str(path), (f"Frame {pipe.content_index} of **{name}** ({width}x{height}), the content "
                           f"frame the VAE decodes the clip's motion around. Download it, edit it in "
                           "any image editor without resizing or cropping it, and upload it below.")

    @user_errors
    def edit_apply(self, clip, edited, progress=gr.Progress()):
        """The clip re-rendered around the edited content frame: original | edited, side by side."""
        video, name = self._edit_clip(clip)
        path, image_name = upload_path(edited, "the edited frame"), upload_name(edited)
        s = self.settings
        check_image(path, image_name, s.max_upload_bytes, s.max_side)
        image = _read(lambda: read_video(path, num_frames=1)[:, 0], path, image_name)  # 3 H W
        check_frame_size(image, video, image_name)
        pipe = self._edit_pipeline(video, name, progress)
        progress(0.3, desc="re-rendering the clip around the edited frame")
        out = pipe(video[None], image[None], output_type="pt")
        edited_video = out.frames[0].permute(1, 0, 2, 3).float().cpu() * 2.0 - 1.0   # 3 T H W
        result = write_video(self.workdir.new_file("edited"), side_by_side(video, edited_video),
                             fps=vae_args(s).fps)
        _, frames, height, width = video.shape
        resized = ("" if tuple(image.shape[1:]) == (height, width) else
                   f" (resized from {image.shape[2]}x{image.shape[1]} to {width}x{height})")
        return str(result), (f"Left: **{name}** ({frames} frames); right: the same motion decoded around "
                             f"**{image_name}**{resized}.")

    def _edit_clip(self, clip) -> tuple[torch.Tensor, str]:
        """The clip the edit tab works on, read as the reconstruct tab reads it: (3, T, H, W)."""
        path, name = upload_path(clip, "a clip"), upload_name(clip)
        s = self.settings
        check_clip(path, name, s.max_upload_bytes, s.max_seconds, s.max_side)
        args = vae_args(s)
        return _read(lambda: read_clip(path, args), path, name), name

    def _edit_pipeline(self, video: torch.Tensor, name: str, progress):
        progress(0.0, desc="loading the edit pipeline")
        pipe = self.models.edit()
        if video.shape[1] <= pipe.content_index:
            raise DemoInputError(f"{name} has {video.shape[1]} frame(s) at 16 fps; the edit tab needs at "
                                 f"least {pipe.content_index + 1} (its frame {pipe.content_index} is the one to edit)")
        return pipe

    # ------------------------------------------------------------------------------ helpers

    def _write_frames(self, frames: torch.Tensor, pipe, stem: str) -> Path:
        """Pipeline frames (T, 3, H, W) in [0, 1] -> a VP9 WebM the page plays."""
        video = frames.permute(1, 0, 2, 3).float().cpu() * 2.0 - 1.0                 # 3 T H W
        return write_video(self.workdir.new_file(stem), video, fps=_fps(pipe))


def _read(read, path: Path, name: str):
    """Run a reader; its error names the person's file rather than the cached upload."""
    try:
        return read()
    except ReducioError as error:
        raise DemoInputError(str(error).replace(str(path), name)) from None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _fps(pipe) -> float:
    return float(getattr(pipe.config, "default_fps", None) or 16)


def _step_progress(progress, steps: int, desc: str):
    def callback(pipe, step, timestep, tensors):
        progress((step + 1, steps), desc=desc, unit="steps")
        return {}

    return callback


def _video_note(frames: torch.Tensor, pipe, timings: dict[str, float] | None) -> str:
    count, _, height, width = frames.shape
    took = f" in {timings['total']:.1f} s" if timings and "total" in timings else ""
    return f"{count} frames, {width}x{height}, {_fps(pipe):g} fps, made{took}."


def _message(*parts: str | None) -> str:
    """Markdown paragraphs; all but the last part are warnings."""
    *warnings, body = parts
    lines = [f"**Warning:** {w.removeprefix('WARNING: ')}" for w in warnings if w]
    return "\n\n".join([*lines, body] if body else lines)
