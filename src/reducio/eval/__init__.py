"""Evaluation: reconstruction metrics, FVD, CLIP score, cheap VBench-style dimensions, the
shapes-world evaluator and report writers. Networks with learned weights (LPIPS, I3D, CLIP) load
from local files only; see docs/evaluate.md."""

from reducio.eval.clip_score import CLIPScorer
from reducio.eval.fvd import FeatureStats, frechet_distance, fvd_from_features, fvd_from_stats, i3d_embed
from reducio.eval.i3d import InceptionI3d
from reducio.eval.lpips import LPIPS, lpips_video
from reducio.eval.reconstruction import psnr, ssim
from reducio.eval.report import markdown_table, summarise, write_json
from reducio.eval.seams import seam_band_errors
from reducio.eval.shapes import (
    MotionBinding,
    SceneDescription,
    ShapeConfusion,
    ShapesAccuracy,
    ShapesEvaluator,
    ShapesVerdict,
)
from reducio.eval.shapes_detect import ShapesEvaluatorConfig
from reducio.eval.temporal import (
    MetricUnavailableError,
    dynamic_degree,
    motion_smoothness,
    temporal_flickering,
)

__all__ = [
    "CLIPScorer",
    "FeatureStats",
    "InceptionI3d",
    "LPIPS",
    "MetricUnavailableError",
    "MotionBinding",
    "SceneDescription",
    "ShapeConfusion",
    "ShapesAccuracy",
    "ShapesEvaluator",
    "ShapesEvaluatorConfig",
    "ShapesVerdict",
    "dynamic_degree",
    "frechet_distance",
    "fvd_from_features",
    "fvd_from_stats",
    "i3d_embed",
    "seam_band_errors",
    "lpips_video",
    "markdown_table",
    "motion_smoothness",
    "psnr",
    "ssim",
    "summarise",
    "temporal_flickering",
    "write_json",
]
