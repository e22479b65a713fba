"""`reducio train dit` and `reducio train stage1`: the DiT tasks of the shared `reducio train` command.

    reducio train dit [--recipe dit-tiny-cpu | --config FILE] [--set k=v ...] [--output-dir DIR]
                      [--resume [PATH]] [--max-steps N] [--init PATH | pixart:PATH]
    reducio train stage1 [--recipe stage1-tiny-cpu ...]

`cli/train.py` owns parsing, recipes, --set, resume and the loop; this module only declares the
two tasks (`DIT_TASKS`, merged into `cli.train.TASKS`).
"""

from __future__ import annotations


def dit_task():
    from reducio.cli.train import TrainTask
    from reducio.training.dit_objective import DiTTrainConfig, build_dit_training

    return TrainTask("dit", DiTTrainConfig, "dit-tiny-cpu", build_dit_training)


def stage1_task():
    from reducio.cli.train import TrainTask
    from reducio.training.stage1_objective import Stage1TrainConfig, build_stage1_training

    return TrainTask("stage1", Stage1TrainConfig, "stage1-tiny-cpu", build_stage1_training)


# name -> (help, default recipe, factory), the shape of cli.train.TASKS.
DIT_TASKS = {
    "dit": ("train Reducio-DiT on latent shards from `reducio extract` (diffusion loss, CFG dropout)",
            "dit-tiny-cpu", dit_task),
    "stage1": ("train the built-in stage-1 text-to-image generator on content frames", "stage1-tiny-cpu",
               stage1_task),
}
