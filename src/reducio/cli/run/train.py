"""`reducio train TASK` and `reducio train export`: what runs once the arguments are parsed."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from reducio.configs import apply_overrides
from reducio.errors import ConfigError
from reducio.training.checkpoint import read_json, resolve_checkpoint
from reducio.training.export import export_checkpoint
from reducio.training.loop import Trainer
from reducio.training.recipes import load_recipe
from reducio.training.tasks import TASKS, TrainTask

logger = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    if args.train_task == "export":
        return run_export(args)
    task = TASKS[args.train_task]
    config, run_dir, checkpoint = resolve_config(task, args)
    objective, train_dataset, sample_dataset = task.build(config)
    trainer = Trainer(config, objective, train_dataset, run_dir=run_dir, sample_dataset=sample_dataset,
                      resume=checkpoint)
    summary = trainer.fit()
    if trainer.accelerator.is_main_process:
        final = ", ".join(f"{k} {v:.4g}" for k, v in summary.final_metrics.items() if k.startswith("loss/"))
        print(f"trained {task.name}: steps {summary.start_step} -> {summary.final_step} in {summary.wall_time_s:.1f} s "
              f"({summary.sec_per_step:.3f} s/step); {final}")
        if summary.skipped_files:
            print(f"skipped data files: {summary.skipped_files}")
        print(f"run directory: {run_dir} (checkpoint {summary.checkpoint}, model {summary.export_dir})")
    return 0


def run_export(args: argparse.Namespace) -> int:
    done = export_checkpoint(args.checkpoint, args.output, ema=not args.raw, dtype=args.dtype)
    print(f"exported {done['task']} step {done['step']} ({done['weights']} weights) from "
          f"{done['checkpoint']} -> {done['output']} (stored as {done['dtype']})")
    return 0


def resolve_config(task: TrainTask, args: argparse.Namespace):
    """(config, run_dir, checkpoint or None) from the command line."""
    recipe = args.config or args.recipe or args.default_recipe
    recipe_name = Path(recipe).stem if args.config else recipe
    checkpoint = None
    if args.resume is not None:
        if args.resume == "latest":
            run_dir = Path(args.output_dir or f"runs/{task.name}-{recipe_name}")
            checkpoint = resolve_checkpoint(run_dir, None)
        else:
            checkpoint = resolve_checkpoint(args.output_dir or ".", args.resume)
            run_dir = Path(args.output_dir) if args.output_dir else checkpoint.parent.parent
        if args.config or args.recipe:
            logger.warning("--resume: the config comes from %s; --recipe/--config is ignored", checkpoint)
        config = task.config_class.from_dict(read_json(checkpoint / "config.json"))
        config = apply_overrides(config, args.overrides)
    else:
        run_dir = Path(args.output_dir or f"runs/{task.name}-{recipe_name}")
        config = load_recipe(recipe, task.config_class, args.overrides)
    if args.init:
        config = apply_overrides(config, [f"model.init={args.init}"])
    if args.max_steps is not None:
        if args.max_steps < 1:
            raise ConfigError(f"--max-steps must be >= 1, got {args.max_steps}")
        config = config.replace(train=config.train.replace(max_steps=args.max_steps))
    return config, run_dir, checkpoint
