"""`reducio train TASK`: train a model from a recipe with the shared training loop.

    reducio train vae [--recipe NAME | --config recipe.yaml] [--set key.sub=value ...]
                      [--output-dir DIR] [--resume [PATH]] [--max-steps N] [--init WEIGHTS]

Adding a task (e.g. `dit`): write a function returning a `TrainTask` (its config class, default
recipe and a `build(config) -> (objective, train_dataset, sample_dataset)`), and add
`"dit": (help, default_recipe, factory)` to `TASKS`. Everything else (recipes, --set, resume,
logging, the loop) is shared.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from reducio.cli.arguments import positive_int
from reducio.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainTask:
    name: str
    config_class: type
    default_recipe: str
    build: Callable[[Any], tuple[Any, Any, Any]]  # config -> (Objective, train dataset, sample dataset | None)


def _vae_task() -> TrainTask:
    from reducio.training.config import VAETrainConfig
    from reducio.training.vae_task import build_vae_training

    return TrainTask("vae", VAETrainConfig, "tiny-cpu", build_vae_training)


# name -> (help, default recipe, factory). Factories import lazily so `reducio --help` stays fast.
TASKS: dict[str, tuple[str, str, Callable[[], TrainTask]]] = {
    "vae": ("train Reducio-VAE (release losses, 3D PatchGAN, two optimisers)", "tiny-cpu", _vae_task),
}


def _add_dit_tasks() -> None:
    # `dit` and `stage1` are declared by the DiT side in cli/train_dit.py (lazy factories).
    from reducio.cli.train_dit import DIT_TASKS

    TASKS.update(DIT_TASKS)


_add_dit_tasks()


def add_common_arguments(parser: argparse.ArgumentParser, default_recipe: str) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--recipe", default=None,
                        help=f"bundled recipe name (default: {default_recipe}; e.g. release, tiny-cpu)")
    source.add_argument("--config", default=None, help="recipe file (.yaml or .json), e.g. a run's config.json")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set optim.lr=1e-4 --set data.root=/videos (repeatable)")
    parser.add_argument("--output-dir", default=None, help="run directory (default: runs/<task>-<recipe>)")
    parser.add_argument("--resume", nargs="?", const="latest", default=None, metavar="PATH",
                        help="continue a run: the latest checkpoint of --output-dir, or the checkpoint PATH")
    parser.add_argument("--max-steps", type=positive_int, default=None, help="train until this step (overrides train.max_steps)")
    parser.add_argument("--init", default=None, metavar="WEIGHTS",
                        help="start from these weights (from_pretrained path, official .ckpt too): sets model.init")


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train a model from a recipe: vae, dit or stage1",
                                   description="Train with the shared loop: recipes, --set overrides, exact resume.")
    tasks = parser.add_subparsers(dest="train_task", metavar="TASK")
    for name, (help_text, default_recipe, _) in TASKS.items():
        sub = tasks.add_parser(name, help=help_text, description=help_text)
        add_common_arguments(sub, default_recipe)
        sub.set_defaults(func=run)
    export = tasks.add_parser(
        "export", help="a training checkpoint -> a from_pretrained model folder (EMA weights)",
        description="Write the model of a checkpoint (checkpoints/step-XXXXXXXX, or a run folder: its "
        "latest) as config.json + model.safetensors, e.g. to evaluate or sample an unfinished run.")
    export.add_argument("checkpoint", help="a checkpoints/step-XXXXXXXX folder or a run folder")
    export.add_argument("-o", "--output", required=True, help="output model folder")
    export.add_argument("--raw", action="store_true", help="the trained weights, not their EMA")
    export.set_defaults(func=run_export)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def run_export(args: argparse.Namespace) -> int:
    from reducio.training.export import export_checkpoint

    done = export_checkpoint(args.checkpoint, args.output, ema=not args.raw)
    print(f"exported {done['task']} step {done['step']} ({done['weights']} weights) from "
          f"{done['checkpoint']} -> {done['output']}")
    return 0


def resolve_config(task: TrainTask, args: argparse.Namespace):
    """(config, run_dir, checkpoint or None) from the command line."""
    from reducio.training.checkpoint import read_json, resolve_checkpoint
    from reducio.configs import apply_overrides
    from reducio.training.recipes import load_recipe

    recipe = args.config or args.recipe or task.default_recipe
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


def run(args: argparse.Namespace) -> int:
    from reducio.training.loop import Trainer

    task = TASKS[args.train_task][2]()
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
