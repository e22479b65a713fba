"""What the demo loads and the limits it puts on uploads and requests (`reducio demo` options)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from reducio.loading.sources import builtin_folder
from reducio.pipelines import BUILTIN_NAMES

# Used when the pipeline's model_index.json does not say (the built-in pipeline's own values).
FALLBACK_STEPS = 25
FALLBACK_STAGE1_STEPS = 30
FALLBACK_FPS = 16
FALLBACK_SIZE = 64


@dataclass(frozen=True)
class DemoSettings:
    """Model sources, device and limits of one demo app.

    pipeline: text/image-to-video pipeline, "tiny" (built-in) or a save_pretrained folder.
    vae: the VAE of the reconstruct and edit tabs, as `reducio reconstruct --vae` takes it.
    size: image-to-video frame size (S or (H, W), multiples of 32); None = the pipeline's
        stage-1 size (64 for the built-in one).
    max_upload_mb: Gradio's max_file_size, checked again by every handler.
    max_seconds: longest clip the reconstruct and edit tabs accept.
    max_side: longest side in pixels of an uploaded clip or image.
    max_steps: most sampler steps a request may ask for.
    cache_minutes: uploads and results are deleted this long after they were made.
    """

    pipeline: str = "tiny"
    vae: str = "tiny"
    device: str | None = None
    dtype: str = "fp32"
    size: int | tuple[int, int] | None = None
    max_upload_mb: float = 50.0
    max_seconds: float = 10.0
    max_side: int = 2048
    max_steps: int = 100
    cache_minutes: float = 60.0

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def builtin_pipeline(self) -> bool:
        return str(self.pipeline) in BUILTIN_NAMES


def pipeline_defaults(source: str) -> dict[str, int]:
    """The sampler steps, frame rate and stage-1 size a pipeline's model_index.json records,
    read without loading any weights (for the sliders' initial values)."""
    folder = builtin_folder("pipeline", str(source)) or Path(source).expanduser()
    try:
        index = json.loads((folder / "model_index.json").read_text())
    except (OSError, ValueError):
        index = {}

    def number(key: str, fallback: int) -> int:
        value = index.get(key)
        return int(value) if isinstance(value, (int, float)) and value > 0 else fallback

    return {"steps": number("default_num_inference_steps", FALLBACK_STEPS),
            "stage1_steps": number("stage1_num_inference_steps", FALLBACK_STAGE1_STEPS),
            "fps": number("default_fps", FALLBACK_FPS),
            "size": number("stage1_image_size", FALLBACK_SIZE)}
