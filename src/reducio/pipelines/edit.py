"""Edit a clip by editing one frame: Reducio-VAE's split of a clip into content + motion.

    pipe = ReducioEditPipeline.from_pretrained("tiny")          # or a VAE folder / .ckpt / "ft4"
    frame = pipe.content_frame(video)                           # B 3 H W: frame 7, the one to edit
    edited = my_edit(frame)                                     # any image editor, same size
    out = pipe(video, edited, output_type="pt")                 # frames B T 3 H W in [0, 1]

Reducio-VAE rebuilds a 16-frame window from a small motion latent plus its content frame, the
MIDDLE frame (index 7). Editing = encode the clip's motion with its own content frame (exactly as
a reconstruction does), then decode that motion around the edited frame instead. Without an
edited frame (`image=None`) the call is the plain reconstruction; with the clip's own frame it
reproduces it bit for bit.

Long clips (T > 16) follow the window scheme of long generation (`long_video.plan_windows`):
windows every 8 frames, overlapping by 8; window k's motion latent is encoded from the source's
frames [8k, 8k + 16) with the source's own content frame 8k + 7, and decoded around frame 8k + 7
*as the previous window produced it* (its last frame), so the edit propagates window to window;
`stitch_windows` keeps the earlier window's frames in each overlap. A length that is not
16 + 8 k is padded by repeating the last frame and cut back after decoding.

An edited frame of another size with the clip's aspect ratio (within 1 %) is resized to the clip
(bilinear, antialiased; a logged warning says so); another aspect ratio is refused with the size
to use, because stretching would move every edge the motion latent was encoded against.
"""

import logging
import os
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from diffusers import DiffusionPipeline
from diffusers.video_processor import VideoProcessor

from reducio.errors import PipelineInputError
from reducio.models.vae import ReducioVAE
from reducio.pipelines.base import _onload, _timed
from reducio.pipelines.images import ImageInput, prepare_image
from reducio.pipelines.long_video import WindowPlan, padded_length, plan_windows, stitch_windows
from reducio.pipelines.pipeline_output import OUTPUT_TYPES, ReducioPipelineOutput

logger = logging.getLogger(__name__)

MODEL_INDEX = "model_index.json"
ASPECT_TOLERANCE = 0.01  # relative difference of H/W under which an edited frame is resized
_RANGE_SLACK = 1e-3  # decoded frames fed back as input may overshoot [-1, 1] by rounding


class ReducioEditPipeline(DiffusionPipeline):
    """Decode a clip's motion around an edited content frame. Components: `vae` (ReducioVAE)."""

    model_cpu_offload_seq = "vae"
    # argument names in error messages (the transfer pipeline names its own)
    _video_arg, _image_arg = "video", "image"

    def __init__(self, vae: ReducioVAE) -> None:
        super().__init__()
        self.register_modules(vae=vae)
        self.video_processor = VideoProcessor(vae_scale_factor=vae.spatial_compression_ratio)

    def register_modules(self, **kwargs: Any) -> None:
        """diffusers' `register_modules`, recording reducio classes by their full module path
        (as `ReducioVideoPipeline` does), so `save_pretrained` folders load again."""
        super().register_modules(**kwargs)
        for name, module in kwargs.items():
            if module is not None and type(module).__module__.split(".")[0] == "reducio":
                self.register_to_config(**{name: (type(module).__module__, type(module).__name__)})

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike = "tiny", **kwargs: Any):
        """A folder written by `save_pretrained` (model_index.json), or any VAE source that
        `ReducioVAE.from_pretrained` takes: the built-in "tiny", a VAE folder, a `.safetensors`,
        an official `.ckpt`, "ft4" / "ft2", a hub id. `torch_dtype=` / `device=` as usual."""
        device = kwargs.pop("device", None)
        dtype, torch_dtype = kwargs.pop("dtype", None), kwargs.pop("torch_dtype", None)
        dtype = torch_dtype if dtype is None else dtype  # diffusers renamed torch_dtype to dtype
        name = os.fspath(pretrained_model_name_or_path)
        if (Path(name).expanduser() / MODEL_INDEX).is_file():
            pipe = super().from_pretrained(name, dtype=dtype or torch.float32, **kwargs)
        else:
            pipe = cls(vae=ReducioVAE.from_pretrained(name, torch_dtype=dtype, **kwargs).eval())
        return pipe.to(device) if device is not None else pipe

    # ------------------------------------------------------------------ windows
    @property
    def window(self) -> int:
        """Frames per VAE window (16)."""
        return self.vae.num_frames

    @property
    def content_index(self) -> int:
        """The content frame of a window: its middle frame (7 of 16)."""
        return self.vae.content_frame_index(self.window)

    def window_plan(self, num_frames: int) -> WindowPlan:
        """The windows of a `num_frames` clip, padded up to the next 16 + 8 k frames."""
        return plan_windows(padded_length(num_frames, self.window, self.content_index), self.window,
                            self.content_index)

    # ------------------------------------------------------------------ inputs
    def prepare_video(self, video: Any) -> torch.Tensor:
        """A float tensor (B, 3, T, H, W) or (3, T, H, W) in [-1, 1] -> (B, 3, T, H, W), checked."""
        name = self._video_arg
        if not isinstance(video, torch.Tensor):
            raise PipelineInputError(f"`{name}` must be a float tensor (B, 3, T, H, W) in [-1, 1], got "
                                     f"{type(video).__name__}; read files with reducio.read_video(path)[None]")
        tensor = video[None] if video.ndim == 4 else video
        if tensor.ndim != 5 or tensor.shape[1] != 3:
            raise PipelineInputError(f"`{name}` must be (B, 3, T, H, W) or (3, T, H, W), got shape "
                                     f"{tuple(video.shape)}; permute (B, T, 3, H, W) clips with "
                                     ".permute(0, 2, 1, 3, 4)")
        if not tensor.is_floating_point():
            raise PipelineInputError(f"`{name}` must be a float tensor in [-1, 1], got {tensor.dtype}; map "
                                     "uint8 pixels with x / 127.5 - 1")
        low, high = float(tensor.min()), float(tensor.max())
        if low < -1.0 - _RANGE_SLACK or high > 1.0 + _RANGE_SLACK:
            raise PipelineInputError(f"`{name}` must lie in [-1, 1], got values in [{low:.3f}, {high:.3f}]; "
                                     "map [0, 1] clips with x * 2 - 1")
        frames, height, width = tensor.shape[2:]
        if frames <= self.content_index:
            raise PipelineInputError(
                f"`{name}` has {frames} frame(s); it needs at least {self.content_index + 1} so that its "
                f"content frame (index {self.content_index}) is a frame of the clip")
        s = self.vae.spatial_compression_ratio
        if height % s or width % s:
            raise PipelineInputError(
                f"`{name}` frames are {height}x{width}; height and width must be multiples of {s} (the "
                f"VAE's spatial factor): crop to {max(height // s, 1) * s}x{max(width // s, 1) * s} or resize to "
                f"{-(-height // s) * s}x{-(-width // s) * s} (reducio.read_video(path, size=...) does both)")
        return tensor.float().clamp(-1.0, 1.0)

    def content_frame(self, video: Any) -> torch.Tensor:
        """The frame to edit: (B, 3, H, W) in [-1, 1], the content frame of the first window
        (index 7), at the size the VAE works at (the clip's)."""
        return self.prepare_video(video)[:, :, self.content_index].clone()

    def prepare_frame(self, image: ImageInput, size: tuple[int, int], batch: int) -> torch.Tensor:
        """The edited frame (tensor (B, 3, H, W) / (3, H, W) in [-1, 1], PIL, uint8 array) ->
        (batch, 3, H, W) at the clip's `size`; another size of the same aspect is resized."""
        name = self._image_arg
        try:
            frame = prepare_image(image)                                               # b 3 h w
        except PipelineInputError as error:
            raise PipelineInputError(str(error).replace("`image`", f"`{name}`")) from None
        if frame.shape[0] not in (1, batch):
            raise PipelineInputError(f"`{name}` holds {frame.shape[0]} frames for {batch} clip(s); pass one "
                                     "frame, or one per clip")
        frame = frame.expand(batch, -1, -1, -1) if frame.shape[0] != batch else frame
        return fit_frame(frame, size, name)

    # ------------------------------------------------------------------ the two halves
    @torch.no_grad()
    def encode_motion(self, video: torch.Tensor, plan: WindowPlan) -> torch.Tensor:
        """(B, 3, plan.num_frames, H, W) -> normalised motion latents (B, C, n * t, h, w): window k
        encoded from frames [8k, 8k + 16) with its own content frame (what a reconstruction does)."""
        device, dtype = self._execution_device, self.vae.dtype
        _onload(self.vae)
        latents = []
        for k in range(plan.num_windows):
            window = video[:, :, plan.start(k):plan.start(k) + plan.window].to(device, dtype)  # B 3 16 H W
            mode = self.vae.encode(window).latent_dist.mode()
            latents.append(self.vae.normalize_latent(mode))                            # B C t h w
        return torch.cat(latents, dim=2)

    @torch.no_grad()
    def decode_motion(self, latents: torch.Tensor, frame: torch.Tensor, plan: WindowPlan) -> torch.Tensor:
        """Decode every window's motion: window 0 around `frame` (B, 3, H, W), window k around
        window k - 1's last frame. Returns the stitched clip (B, 3, plan.num_frames, H, W), clamped."""
        device, dtype = self._execution_device, self.vae.dtype
        t = latents.shape[2] // plan.num_windows
        content = frame.to(device, dtype)
        windows = []
        _onload(self.vae)
        with self.progress_bar(total=plan.num_windows) as bar:
            for k in range(plan.num_windows):
                if k > 0:
                    content = windows[-1][:, :, plan.window - 1].clamp(-1.0, 1.0).to(dtype)  # B 3 H W
                z = latents[:, :, k * t:(k + 1) * t].to(device, dtype)
                windows.append(self.vae.decode(z, content).sample.float())                  # B 3 16 H W
                bar.update()
        return stitch_windows(windows, plan).clamp(-1.0, 1.0)

    # ------------------------------------------------------------------ call
    @torch.no_grad()
    def __call__(self, video: torch.Tensor, image: ImageInput = None, output_type: str = "pt",
                 return_dict: bool = True):
        """Decode `video`'s motion around the edited frame `image`.

        Args:
            video: (B, 3, T, H, W) or (3, T, H, W) float in [-1, 1]; T >= 8, H, W multiples of 32.
            image: the edited content frame (frame 7): (B, 3, H, W) / (3, H, W) float in [-1, 1],
                uint8 tensor, PIL image or uint8 array; one frame or one per clip. None = the
                clip's own frame (the plain reconstruction, same window scheme).
            output_type: "pt" (default: B T 3 H W in [0, 1]), "np", "pil", or "latent" (the
                motion latents (B, C, n * t, h, w), nothing decoded).
            return_dict: False returns (frames,), or (latents, content_frames) for "latent".
        Returns:
            ReducioPipelineOutput(frames, content_frames = the frame decoded around (B, 3, H, W)
            in [-1, 1], latents = the motion latents, timings).
        """
        start = time.perf_counter()
        timings: dict[str, float] = {"encode": 0.0, "decode": 0.0}
        if output_type not in OUTPUT_TYPES:
            raise PipelineInputError(f"`output_type` must be one of {OUTPUT_TYPES}, got {output_type!r}")
        video = self.prepare_video(video)                                               # B 3 T H W
        batch, _, frames, height, width = video.shape
        frame = (video[:, :, self.content_index] if image is None
                 else self.prepare_frame(image, (height, width), batch))                # B 3 H W
        plan = self.window_plan(frames)
        if plan.num_frames > frames:
            logger.info("%s: %d frames padded to %d (16 + 8 k) by repeating the last frame; cut after "
                        "decoding", self._video_arg, frames, plan.num_frames)
            video = torch.cat([video, video[:, :, -1:].expand(-1, -1, plan.num_frames - frames, -1, -1)], 2)
        device = self._execution_device
        with _timed(timings, "encode", device):
            latents = self.encode_motion(video, plan)                                  # B C n*t h w
        if output_type == "latent":
            out = latents
        else:
            with _timed(timings, "decode", device):
                clip = self.decode_motion(latents, frame, plan)[:, :, :frames]          # B 3 T H W
            out = self.video_processor.postprocess_video(clip, output_type=output_type)
        self.maybe_free_model_hooks()
        timings["total"] = time.perf_counter() - start
        if not return_dict:
            return (out, frame) if output_type == "latent" else (out,)
        return ReducioPipelineOutput(frames=out, content_frames=frame.cpu(), latents=latents,
                                     timings=timings)


def fit_frame(frame: torch.Tensor, size: tuple[int, int], name: str = "image") -> torch.Tensor:
    """(B, 3, h, w) -> (B, 3, H, W): unchanged at the clip's size, resized (bilinear, antialiased,
    with a logged warning) when the aspect ratio agrees within 1 %, else PipelineInputError."""
    h, w = frame.shape[-2:]
    height, width = size
    if (h, w) == (height, width):
        return frame
    if abs(h * width - w * height) > ASPECT_TOLERANCE * height * w:
        scale = min(h / height, w / width)
        crop = f"{round(height * scale)}x{round(width * scale)}"
        raise PipelineInputError(
            f"`{name}` is {h}x{w} but the clip is {height}x{width}: another aspect ratio ({h / w:.3f} vs "
            f"{height / width:.3f}), so resizing would stretch it; edit the {height}x{width} frame that "
            f"pipe.content_frame(video) or `reducio edit VIDEO --export-frame F.png` gives, or centre-crop "
            f"yours to {crop} first")
    logger.warning("`%s` is %dx%d, the clip %dx%d: resized to %dx%d (bilinear, antialiased)",
                   name, h, w, height, width, height, width)
    return F.interpolate(frame, size=(height, width), mode="bilinear", antialias=True,
                         align_corners=False).clamp(-1.0, 1.0)


__all__ = ["ReducioEditPipeline", "fit_frame"]
