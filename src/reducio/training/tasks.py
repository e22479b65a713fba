"""The training tasks (`reducio train TASK`): for each, its config class, default recipe and how a
run is built from its config. Everything else (recipes, --set, resume, logging, the loop) is
shared.

Adding a task: write its config (`training/config/`), its objective and a
`build(config) -> (objective, train dataset, sample dataset)`, a bundled recipe, then add a
`TrainTask` here and its name, help and default recipe to `reducio.cli.train.TASKS` (the light
table the parser reads; a test checks that the two agree).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from reducio.training.config import DiTTrainConfig, RerankerTrainConfig, Stage1TrainConfig, VAETrainConfig
from reducio.training.dit_objective import build_dit_training
from reducio.training.reranker_objective import build_reranker_training
from reducio.training.stage1_objective import build_stage1_training
from reducio.training.vae_task import build_vae_training


@dataclass(frozen=True)
class TrainTask:
    name: str
    help: str
    config_class: type
    default_recipe: str
    build: Callable[[Any], tuple[Any, Any, Any]]  # config -> (Objective, train dataset, sample dataset | None)


TASKS: dict[str, TrainTask] = {task.name: task for task in (
    TrainTask("vae", "train Reducio-VAE (release losses, 3D PatchGAN, two optimisers)",
              VAETrainConfig, "tiny-cpu", build_vae_training),
    TrainTask("dit", "train Reducio-DiT on latent shards from `reducio extract` (diffusion loss, CFG dropout)",
              DiTTrainConfig, "dit-tiny-cpu", build_dit_training),
    TrainTask("stage1", "train the built-in stage-1 text-to-image generator on content frames",
              Stage1TrainConfig, "stage1-tiny-cpu", build_stage1_training),
    TrainTask("reranker", "train stage 1's reranker (frame-caption matcher) on shapes-world content frames",
              RerankerTrainConfig, "reranker-tiny-cpu", build_reranker_training),
)}


__all__ = ["TASKS", "TrainTask"]
