"""The training tasks (`reducio train TASK`): for each, its config class and how a run is built
from its config. Everything else (recipes, --set, resume, logging, the loop) is shared.

Adding a task: write its config (`training/config/`), its objective and a
`build(config) -> (objective, train dataset, sample dataset)`, a bundled recipe, then add a
`TrainTask` here and the task's help line and default recipe to `reducio.cli.train.TASKS` (what
the command line shows, read without importing torch; a test checks that both name the same tasks
and that each default recipe loads into its task's config).
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
    config_class: type
    build: Callable[[Any], tuple[Any, Any, Any]]  # config -> (Objective, train dataset, sample dataset | None)


TASKS: dict[str, TrainTask] = {task.name: task for task in (
    TrainTask("vae", VAETrainConfig, build_vae_training),
    TrainTask("dit", DiTTrainConfig, build_dit_training),
    TrainTask("stage1", Stage1TrainConfig, build_stage1_training),
    TrainTask("reranker", RerankerTrainConfig, build_reranker_training),
)}


__all__ = ["TASKS", "TrainTask"]
