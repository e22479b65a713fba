"""Training: typed config sections and recipes, the one shared loop, objectives, checkpoints, EMA."""

from reducio.configs import Config, apply_overrides
from reducio.training.config import (
    DiTTrainConfig,
    EMASection,
    LoggingSection,
    LoRASection,
    RunSection,
    Stage1TrainConfig,
    VAELossSection,
    VAEModelSection,
    VAEOptimSection,
    VAETrainConfig,
    VideoDataSection,
)
from reducio.training.loop import RunSummary, Trainer, TrainingDivergedError
from reducio.training.objective import Objective, Samples
from reducio.training.recipes import available_recipes, load_recipe
from reducio.training.vae_objective import VAEObjective

__all__ = [
    "Config",
    "DiTTrainConfig",
    "EMASection",
    "LoRASection",
    "LoggingSection",
    "Objective",
    "RunSection",
    "RunSummary",
    "Samples",
    "Stage1TrainConfig",
    "Trainer",
    "TrainingDivergedError",
    "VAELossSection",
    "VAEModelSection",
    "VAEObjective",
    "VAEOptimSection",
    "VAETrainConfig",
    "VideoDataSection",
    "apply_overrides",
    "available_recipes",
    "load_recipe",
]
