"""Generation pipelines: image-to-video, text-to-video (two stages), the built-in stage-1 image
generator, long clips window by window, and whole-pipeline save/load (docs/generate.md).

The input image is the clip's MIDDLE frame ((T-1)//2 = 7 of 16), not its first frame.
"""

from reducio.pipelines.image_to_video import GenerationDefaults, ReducioImageToVideoPipeline
from reducio.pipelines.loading import (
    BuiltinPipelineMissingError,
    builtin_pipeline_dir,
    load_pipeline,
    save_pipeline,
)
from reducio.pipelines.long_video import WindowPlan, plan_windows, stitch_windows
from reducio.pipelines.output import OUTPUT_TYPES, ReducioPipelineOutput
from reducio.pipelines.stage1 import STAGE1_PRESETS, ReducioStage1Generator, Stage1Config
from reducio.pipelines.text_to_video import DiffusersImageGenerator, ReducioTextToVideoPipeline

__all__ = [
    "BuiltinPipelineMissingError",
    "DiffusersImageGenerator",
    "GenerationDefaults",
    "OUTPUT_TYPES",
    "ReducioImageToVideoPipeline",
    "ReducioPipelineOutput",
    "ReducioStage1Generator",
    "ReducioTextToVideoPipeline",
    "STAGE1_PRESETS",
    "Stage1Config",
    "WindowPlan",
    "builtin_pipeline_dir",
    "load_pipeline",
    "plan_windows",
    "save_pipeline",
    "stitch_windows",
]
