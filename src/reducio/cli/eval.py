"""`reducio eval ...`: measurements of a VAE, a pipeline or generated videos (the parsers; each
subcommand's work is `reducio.cli.run.eval_<name>`, docs/evaluate.md).

    reducio eval recon --vae tiny --synthetic test --count 100 -o runs/eval-tiny
    reducio eval recon --vae ft4 --data clips/ --size 256 --lpips vgg_lpips.pth --i3d i3d.pt -o runs/eval
    reducio eval gen --prompts prompts.jsonl --videos generated/ [--clip clip-folder/] -o runs/gen
    reducio eval gen --prompts prompts.txt --videos generated/ --generate [PIPELINE] -o runs/gen
    reducio eval i2v --splits test test:diagonal --count 100 [--lora runs/lora/final] -o runs/i2v.json
    reducio eval edit --vae tiny --splits test heldout --count 50 --long-count 20 -o runs/edit
    reducio eval transfer --vae tiny --splits test heldout --count 50 -o runs/transfer
    reducio eval pipeline [--pipeline DIR] [--image-to-video] --count 200 -o runs/eval-pipeline.json
    reducio eval vae --vae tiny --count 64 -o runs/eval-vae-tiny.json
    reducio eval stage1 --stage1 DIR --count 40 --sigmas 0.5 0.9 1.0 --guidance 1 2 3
    reducio eval export-vae --run runs/vae-tiny -o runs/vae-tiny-export
    reducio eval seams --vae tiny --size 512 --count 8 -o runs/tile-seams.json
    reducio eval dit-conditions --dit runs/dit-tiny-flow/final --data data/latents/shapes-64

recon and gen write per-sample JSONL (resumable), summary.json and report.md into the output
folder; i2v, pipeline, vae and seams write one JSON report; edit and transfer write edit.json +
edit.md or transfer.json + transfer.md into the output folder (docs/edit.md); stage1 and
dit-conditions print their tables; export-vae writes a model folder with its metadata.json.
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
    commands = parser.add_subparsers(dest="eval_command", metavar="{recon,gen,i2v,edit,transfer,pipeline,vae,stage1,export-vae,seams,dit-conditions}", required=True)
    _register_recon(commands)
    _register_gen(commands)
    _register_i2v(commands)
    _register_edit(commands)
    _register_transfer(commands)
    _register_pipeline(commands)
    _register_vae(commands)
    _register_stage1(commands)
    _register_export_vae(commands)
    _register_seams(commands)
    _register_dit_conditions(commands)


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
    parser.add_argument("--frames", type=positive_int, default=16,
                        help="frames per generated video (default 16; the pipeline names the lengths it can make)")
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


def _register_pipeline(commands) -> None:
    parser = commands.add_parser(
        "pipeline", help="prompt following of a text-to-video pipeline on the shapes world",
        description="Generate one video per canonical caption of clips 0..N-1 of each split (seed --seed + i) and "
                    "judge it with the shapes-world evaluator: accuracy per attribute and joint, a shuffled-caption "
                    "control, accuracy by object count, the ghost share (pixels away from every object that differ "
                    "from the background; the world's own clips give the floor). --image-to-video: stage 2 alone, "
                    "from each clip's true "
                    "content frame. Writes one JSON report (docs/evaluate.md).")
    parser.add_argument("--pipeline", default=None, help="pipeline folder (default: the built-in one)")
    parser.add_argument("--splits", nargs="+", default=["test", "heldout"], help="world splits (default test heldout)")
    parser.add_argument("--count", type=positive_int, default=200, help="prompts per split (default 200)")
    parser.add_argument("--steps", type=positive_int, default=None, help="DiT sampling steps (default: the pipeline's)")
    parser.add_argument("--guidance", type=non_negative_number, default=None,
                        help="text guidance (default: the pipeline's)")
    parser.add_argument("--image-guidance", type=non_negative_number, default=None,
                        help="image guidance of the video stage (default: the pipeline's; 1 or below = off)")
    parser.add_argument("--stage1-candidates", type=positive_int, default=None,
                        help="stage-1 candidates per video (default: the pipeline's; 1 = no reranking)")
    parser.add_argument("--size", type=integer(32), default=64, help="clip side (default 64)")
    parser.add_argument("--seed", type=seed, default=0, help="seed of clip 0's video (clip i: seed + i)")
    parser.add_argument("--batch", type=positive_int, default=20, help="prompts between progress lines (default 20)")
    parser.add_argument("--image-to-video", action="store_true",
                        help="stage 2 alone: generate from each clip's true content frame")
    parser.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("-o", "--output", required=True, help="JSON report path")
    parser.set_defaults(run="reducio.cli.run.eval_pipeline")


def _register_vae(commands) -> None:
    parser = commands.add_parser(
        "vae", help="a VAE on the shapes world: reconstruction, its baselines and what a DiT can reach with it",
        description="Reconstruct clips 0..N-1 of each split with the posterior mode and report PSNR / SSIM next to "
                    "repeating the content frame and decoding with another clip's latent (does the VAE use its "
                    "latent?), errors by background and on flat areas and edges, and the shapes evaluator on the "
                    "reconstructions (the ceiling of a DiT generating this VAE's latents). Writes one JSON report "
                    "(docs/train-vae.md).")
    parser.add_argument("--vae", default="tiny",
                        help="anything ReducioVAE.from_pretrained takes, or a training checkpoint folder "
                             "(checkpoints/step-...: its EMA weights when the run kept EMA) (default: tiny)")
    parser.add_argument("--splits", nargs="+", default=["test", "heldout"], help="world splits (default test heldout)")
    parser.add_argument("--count", type=positive_int, default=64, help="clips per split (default 64)")
    parser.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("-o", "--output", default=None, help="write the results as JSON here")
    parser.set_defaults(run="reducio.cli.run.eval_vae")


def _register_stage1(commands) -> None:
    parser = commands.add_parser(
        "stage1", help="a stage-1 image generator alone: x0 error per noise level, what its samples show",
        description="--sigmas: the x0 error (MSE on [-1, 1] pixels) of one denoising call on the true content frames "
                    "of --split clips noised to each sigma, next to predicting each frame's mean colour. --guidance: per "
                    "scale (and per --sampler), one sample per caption judged by the shapes-world evaluator "
                    "(background, colour, shape, object count, joint), and the shape drawn for each shape and background the "
                    "captions ask for. docs/evaluate.md.")
    parser.add_argument("--stage1", required=True, help="a stage-1 model folder (reducio train export ... --raw)")
    parser.add_argument("--split", default="test", help="world split of the captions and frames (default test)")
    parser.add_argument("--count", type=positive_int, default=40, help="captions / frames (default 40)")
    parser.add_argument("--sigmas", type=non_negative_number, nargs="*", default=[], help="noise levels in [0, 1]")
    parser.add_argument("--guidance", type=non_negative_number, nargs="*", default=[], help="guidance scales")
    parser.add_argument("--steps", type=positive_int, default=30, help="sampling steps (default 30)")
    parser.add_argument("--sampler", nargs="+", default=[None],
                        help="one or more sampler names, e.g. euler euler-stochastic (default: the model's own)")
    parser.add_argument("--seed", type=seed, default=0)
    parser.set_defaults(run="reducio.cli.run.eval_stage1")


def _register_export_vae(commands) -> None:
    parser = commands.add_parser(
        "export-vae", help="export the best checkpoint of shapes-world VAE runs with its measurements",
        description="Pick, among the kept checkpoints of --run (or the one of --checkpoint, or the model folder "
                    "of --vae), the one with the best posterior-mode test PSNR, save it with float16 weights, "
                    "measure the saved weights on test and heldout (as `reducio eval vae`) and write "
                    "metadata.json beside them: how the built-in tiny VAE is made (docs/train-vae.md).")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--run", dest="runs", nargs="+", default=["runs/vae-tiny"],
                        help="run folder(s) of `reducio train vae` whose kept checkpoints compete "
                             "(default runs/vae-tiny)")
    source.add_argument("--checkpoint", default=None, help="export this checkpoint folder")
    source.add_argument("--vae", default=None,
                        help="export this saved model folder instead of a training checkpoint; give --command and --steps")
    parser.add_argument("--command", dest="train_command", default=None, help="the command that trained --vae")
    parser.add_argument("--steps", type=positive_int, default=None, help="training steps of --vae")
    parser.add_argument("--count", type=positive_int, default=64, help="clips per split (default 64)")
    parser.add_argument("-o", "--output", default=None,
                        help="output folder (default: the built-in tiny VAE's, src/reducio/assets/vae-tiny)")
    parser.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads (default 1)")
    parser.set_defaults(run="reducio.cli.run.eval_export_vae")


def _register_seams(commands) -> None:
    parser = commands.add_parser(
        "seams", help="error near the tile stitch lines of a tiled decode, against an untiled one",
        description="Reconstruct --count shapes-world clips at --size px twice with the same VAE, tiled (the "
                    "release's high-resolution path) and untiled, and compare the mean absolute error in a band "
                    "of --band px around the stitch lines with the error inside the tiles; the untiled decode is "
                    "the control. Writes one JSON report (docs/benchmarks.md).")
    parser.add_argument("--vae", default="tiny", help="VAE: built-in name, folder, .safetensors, .ckpt (default tiny)")
    parser.add_argument("--split", default="test", help="world split (default test)")
    parser.add_argument("--size", type=integer(32), default=512, help="clip side in px (default 512)")
    parser.add_argument("--count", type=positive_int, default=8, help="clips (default 8)")
    parser.add_argument("--band", type=positive_int, default=16, help="band half-width in px (default 16)")
    parser.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")
    parser.add_argument("-o", "--output", required=True, help="JSON report path")
    parser.set_defaults(run="reducio.cli.run.eval_seams")


def _register_dit_conditions(commands) -> None:
    parser = commands.add_parser(
        "dit-conditions", help="does a DiT use its text? x0 error with the right, a swapped and no caption",
        description="The x0 error of a trained DiT on noised true latents (shards of `reducio extract` from the "
                    "shapes world) with the right caption, the caption with its direction swapped and no caption, "
                    "per noise level: a DiT that follows the prompt's motion does clearly better with the right "
                    "caption at high noise (docs/dit-design.md).")
    parser.add_argument("--dit", required=True, help="a DiT model folder (final/ or `reducio train export`)")
    parser.add_argument("--data", default="data/latents/shapes-64", help="latent shards (reducio extract)")
    parser.add_argument("--count", type=positive_int, default=16, help="clips, spread over the shards (default 16)")
    parser.add_argument("--seed", type=seed, default=0)
    parser.set_defaults(run="reducio.cli.run.eval_dit_conditions")
