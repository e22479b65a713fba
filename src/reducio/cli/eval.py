"""`reducio eval recon|gen`: reconstruction metrics of a VAE, or checks of generated videos.

    reducio eval recon --vae tiny --synthetic test --count 100 -o runs/eval-tiny
    reducio eval recon --vae ft4 --data clips/ --size 256 --lpips vgg_lpips.pth --i3d i3d.pt -o runs/eval
    reducio eval gen --prompts prompts.jsonl --videos generated/ [--clip clip-folder/] -o runs/gen
    reducio eval gen --prompts prompts.txt --videos generated/ --generate [PIPELINE] -o runs/gen
    reducio eval i2v --splits test test:diagonal --count 100 [--lora runs/lora/final] -o runs/i2v.json
    reducio eval edit --vae tiny --splits test heldout --count 50 --long-count 20 -o runs/edit
    reducio eval transfer --vae tiny --splits test heldout --count 50 -o runs/transfer

The parsers; each subcommand's work is `reducio.cli.run.eval_<name>`. recon and gen write per-sample JSONL (resumable), summary.json and report.md into the output folder;
i2v writes one JSON report (docs/evaluate.md); edit and transfer write edit.json + edit.md or
transfer.json + transfer.md into the output folder (docs/edit.md).
"""

from __future__ import annotations

import argparse

from reducio.cli.arguments import integer, non_negative_int, non_negative_number, positive_int, seed
from reducio.cli.vae_options import add_input_args, add_model_args, add_vae_args


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval", help="evaluate VAE reconstructions or generated videos",
        description="Evaluate a VAE's reconstructions (PSNR, SSIM, LPIPS, rFVD) or generated videos "
                    "(shapes-world accuracy, CLIP score, temporal dimensions). See docs/evaluate.md.",
    )
    commands = parser.add_subparsers(dest="eval_command", metavar="{recon,gen,i2v,edit,transfer}", required=True)
    _register_recon(commands)
    _register_gen(commands)
    _register_i2v(commands)
    _register_edit(commands)
    _register_transfer(commands)


def _register_recon(commands) -> None:
    parser = commands.add_parser(
        "recon", help="reconstruction metrics of a VAE over videos or the synthetic world",
        description="Reconstruct each clip with the VAE and score it; per-clip results go to "
                    "OUT/per_clip.jsonl as they finish (a rerun resumes).",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", nargs="+", help="video file(s), folder(s) of videos or glob(s)")
    source.add_argument("--synthetic", metavar="SPLIT",
                        help="clips of the shapes world (train, validation, test, heldout) instead of files")
    parser.add_argument("--count", type=positive_int, default=100, help="number of synthetic clips (default 100)")
    parser.add_argument("--first", dest="synthetic_start", type=non_negative_int, default=0,
                        help="first synthetic clip index (default 0)")
    parser.add_argument("--limit", type=positive_int, default=None, help="evaluate only the first N files")
    parser.add_argument("--sample-posterior", action="store_true",
                        help="decode a posterior sample (the release's evaluation) instead of the mode")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the posterior samples (per clip)")
    parser.add_argument("--lpips", metavar="PATH", help="LPIPS weights: full LPIPS state dict or lin layers")
    parser.add_argument("--lpips-backbone", metavar="PATH",
                        help="torchvision VGG16/AlexNet ImageNet weights when --lpips holds only the lin layers")
    parser.add_argument("--lpips-net", default="vgg", choices=("vgg", "alex"), help="LPIPS backbone (default vgg)")
    parser.add_argument("--i3d", metavar="PATH", help="I3D state dict (.pt/.pth/.safetensors) for rFVD")
    parser.add_argument("--i3d-features", default="logits", choices=("logits", "pool"),
                        help="I3D embedding: 400-d logits (default, common FVD) or 1024-d pool")
    parser.add_argument("-o", "--output", required=True, help="output folder")
    add_input_args(parser)
    add_vae_args(parser)
    parser.set_defaults(run="reducio.cli.run.eval_recon")


def _register_gen(commands) -> None:
    parser = commands.add_parser(
        "gen", help="score generated videos against their prompts",
        description="Shapes-world accuracy (canonical prompts), CLIP score (--clip) and temporal "
                    "dimensions of generated videos; --generate makes the missing ones first.",
    )
    parser.add_argument("--prompts", required=True,
                        help='JSONL with "prompt" and "path" per line, or a text file of prompts '
                             "paired in order with the videos of --videos sorted by name")
    parser.add_argument("--videos", required=True, help="folder of the generated videos")
    parser.add_argument("--clip", metavar="FOLDER", help="local transformers CLIP folder for the CLIP score")
    parser.add_argument("--device", default=None,
                        help="device of the CLIP model and the pipeline (default: cuda if available)")
    parser.add_argument("--generate", nargs="?", const="builtin", default=None, metavar="PIPELINE",
                        help="first generate the videos that are missing from --videos with this pipeline "
                             "folder (default: the built-in one); video i is seeded with --seed + i")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the first generated video")
    parser.add_argument("--frames", type=integer(16), default=16, help="frames per generated video")
    parser.add_argument("-o", "--output", required=True, help="output folder")
    parser.set_defaults(run="reducio.cli.run.eval_gen")


def _register_i2v(commands) -> None:
    parser = commands.add_parser(
        "i2v", help="stage 2 alone on the shapes world: image-to-video from each clip's true content frame",
        description="Generate clip i of each split from its true middle frame and caption (seed --seed + i) "
                    "and judge it with the shapes-world evaluator; a split written SPLIT:diagonal or SPLIT:eight "
                    "uses the opt-in diagonal motion set and is judged with the eight-way motion reading. "
                    "Writes one JSON report.",
    )
    parser.add_argument("--pipeline", default=None, help="image-to-video pipeline folder (default: the built-in one)")
    parser.add_argument("--splits", nargs="+", default=["test"],
                        help="world splits, e.g. test heldout test:diagonal (default: test)")
    parser.add_argument("--count", type=positive_int, default=100, help="clips per split (default 100)")
    parser.add_argument("--lora", default=None, metavar="PATH",
                        help="a DiT LoRA (the final/ folder of `reducio train dit --set lora.rank=R`) loaded into "
                             "the pipeline's DiT")
    parser.add_argument("--lora-scale", type=non_negative_number, default=1.0,
                        help="multiplier of the LoRA's update (default 1; 0 = the base model)")
    parser.add_argument("--steps", type=positive_int, default=None, help="DiT sampling steps (default: the pipeline's)")
    parser.add_argument("--guidance", type=non_negative_number, default=None,
                        help="text guidance (default: the pipeline's)")
    parser.add_argument("--size", type=integer(32), default=64, help="clip side (default 64)")
    parser.add_argument("--seed", type=seed, default=0, help="seed of clip 0's video (clip i: seed + i)")
    parser.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")
    parser.add_argument("-o", "--output", required=True, help="JSON report path")
    parser.set_defaults(run="reducio.cli.run.eval_i2v")


def _register_edit(commands) -> None:
    parser = commands.add_parser(
        "edit", help="editing by the middle frame, measured on the shapes world",
        description="Change one attribute of each world clip (colour, shape, background), re-render it, and "
                    "compare the clip's motion decoded around the edited content frame with the world's edited clip, "
                    "against pasting the frame and the unedited reconstruction; then how an edit fades with "
                    "distance on long clips. Writes OUT/edit.json and OUT/edit.md (docs/edit.md).")
    parser.add_argument("--kinds", nargs="+", default=["colour", "shape", "background"],
                        choices=("colour", "shape", "background"), help="kinds of edit (default: all three)")
    parser.add_argument("--long-count", type=non_negative_int, default=20,
                        help="long clips per --long-splits split (default 20; 0 = none)")
    parser.add_argument("--long-frames", type=positive_int, default=48,
                        help="frames of a long clip (default 48: five windows of 16 frames, every 8 frames)")
    parser.add_argument("--long-splits", nargs="+", default=["test"], help="splits of the long clips (default test)")
    _add_world_edit_args(parser, "reducio.cli.run.eval_edit")


def _add_world_edit_args(parser: argparse.ArgumentParser, run: str) -> None:
    """Options shared by `eval edit` and `eval transfer`."""
    parser.add_argument("--splits", nargs="+", default=["test", "heldout"], help="world splits (default test heldout)")
    parser.add_argument("--count", type=positive_int, default=50, help="clips (pairs) per split (default 50)")
    parser.add_argument("--first", type=non_negative_int, default=0, help="first clip index (default 0)")
    parser.add_argument("--size", type=integer(32), default=64, help="clip side, a multiple of 32 (default 64)")
    parser.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")
    parser.add_argument("-o", "--output", required=True, help="output folder")
    add_model_args(parser)
    parser.set_defaults(run=run)


def _register_transfer(commands) -> None:
    parser = commands.add_parser(
        "transfer", help="motion transfer, measured on the shapes world",
        description="Decode one-object clip A's motion around another one-object clip B's content frame and judge "
                    "what transfers (direction, speed) and what stays B's (colour, shape, background). Writes "
                    "OUT/transfer.json and OUT/transfer.md (docs/edit.md).")
    _add_world_edit_args(parser, "reducio.cli.run.eval_transfer")

