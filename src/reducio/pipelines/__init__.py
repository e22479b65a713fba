"""Generation pipelines (diffusers pipelines): image-to-video, text-to-video (two stages), the
built-in stage-1 image generator, long clips window by window (docs/generate.md); editing a clip
through its middle frame and motion transfer (VAE only, docs/edit.md).

The input image is the clip's MIDDLE frame (`vae.content_frame_index`: 7 of 16), not its first frame, unless
`image_position="first"` (then the clip is generated around it and starts at it).
"""

from reducio.pipelines.base import BUILTIN_NAMES, ReducioVideoPipeline, has_stage1
from reducio.pipelines.edit import ReducioEditPipeline
from reducio.pipelines.image_to_video import ReducioImageToVideoPipeline
from reducio.pipelines.long_video import WindowPlan, plan_windows, stitch_windows
from reducio.pipelines.pipeline_output import OUTPUT_TYPES, ReducioPipelineOutput
from reducio.pipelines.stage1 import (
    STAGE1_PRESETS,
    ImageRefiner,
    ImageReranker,
    ReducioStage1Generator,
    Stage1Config,
)
from reducio.pipelines.text_to_video import ReducioTextToVideoPipeline
from reducio.pipelines.transfer import ReducioMotionTransferPipeline

__all__ = [
    "BUILTIN_NAMES",
    "ImageRefiner",
    "ImageReranker",
    "OUTPUT_TYPES",
    "ReducioEditPipeline",
    "ReducioImageToVideoPipeline",
    "ReducioMotionTransferPipeline",
    "ReducioPipelineOutput",
    "ReducioStage1Generator",
    "ReducioTextToVideoPipeline",
    "ReducioVideoPipeline",
    "STAGE1_PRESETS",
    "Stage1Config",
    "WindowPlan",
    "has_stage1",
    "plan_windows",
    "stitch_windows",
]
