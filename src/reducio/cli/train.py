"""`reducio train TASK`: train a model from a recipe with the shared training loop.

    reducio train vae|dit|stage1|reranker [--recipe NAME | --config recipe.yaml] [--set key.sub=value ...]
                      [--output-dir DIR] [--resume [PATH]] [--max-steps N] [--init WEIGHTS]
    reducio train export CHECKPOINT -o DIR [--raw] [--dtype fp16|bf16|fp32]

The parser; the work is `reducio.cli.run.train`, the tasks themselves `reducio.training.tasks`.
"""

from __future__ import annotations

import argparse

from reducio.cli.arguments import DTYPE_NAMES, positive_int

# name -> (help, default recipe): what the command line shows and uses when no recipe is given.
# The tasks themselves (config class, build function) are `reducio.training.tasks.TASKS`, which
# imports torch; a test checks that both name the same tasks.
TASKS: dict[str, tuple[str, str]] = {
    "vae": ("train Reducio-VAE (release losses, 3D PatchGAN, two optimisers)", "tiny-cpu"),
    "dit": ("train Reducio-DiT on latent shards from `reducio extract` (diffusion loss, CFG dropout)",
            "dit-tiny-cpu"),
    "stage1": ("train the built-in stage-1 text-to-image generator on content frames", "stage1-tiny-cpu"),
    "reranker": ("train stage 1's reranker (frame-caption matcher) on shapes-world content frames",
                 "reranker-tiny-cpu"),
}


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
    parser = subparsers.add_parser("train", help=f"train a model from a recipe: {', '.join(TASKS)}",
                                   description="Train with the shared loop: recipes, --set overrides, exact resume.")
    tasks = parser.add_subparsers(dest="train_task", metavar="TASK", required=True)
    for name, (help_text, default_recipe) in TASKS.items():
        sub = tasks.add_parser(name, help=help_text, description=help_text)
        add_common_arguments(sub, default_recipe)
        sub.set_defaults(run="reducio.cli.run.train", default_recipe=default_recipe)
    export = tasks.add_parser(
        "export", help="a training checkpoint -> a from_pretrained model folder (EMA weights)",
        description="Write the model of a checkpoint (checkpoints/step-XXXXXXXX, or a run folder: its "
        "latest) as config.json + model.safetensors, e.g. to evaluate or sample an unfinished run.")
    export.add_argument("checkpoint", help="a checkpoints/step-XXXXXXXX folder or a run folder")
    export.add_argument("-o", "--output", required=True, help="output model folder")
    export.add_argument("--raw", action="store_true", help="the trained weights, not their EMA")
    export.add_argument("--dtype", default=None, choices=DTYPE_NAMES,
                        help="store the floating-point weights in this dtype (default: as trained, fp32); "
                        "from_pretrained loads them back as fp32, e.g. fp16 for a folder half the size")
    export.set_defaults(run="reducio.cli.run.train")
