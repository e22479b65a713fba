"""`reducio eval recon|gen`: reconstruction metrics of a VAE, or checks of generated videos.

    reducio eval recon --vae tiny --synthetic test --count 100 -o runs/eval-tiny
    reducio eval recon --vae ft4 --data clips/ --size 256 --lpips vgg_lpips.pth --i3d i3d.pt -o runs/eval
    reducio eval gen --prompts prompts.jsonl --videos generated/ [--clip clip-folder/] -o runs/gen
    reducio eval gen --prompts prompts.txt --videos generated/ --generate [PIPELINE] -o runs/gen
    reducio eval i2v --splits test test:diagonal --count 100 [--lora runs/lora/final] -o runs/i2v.json
    reducio eval edit --vae tiny --splits test heldout --count 50 --long-count 20 -o runs/edit
    reducio eval transfer --vae tiny --splits test heldout --count 50 -o runs/transfer

recon and gen write per-sample JSONL (resumable), summary.json and report.md into the output folder;
i2v writes one JSON report (docs/evaluate.md); edit and transfer write edit.json + edit.md or
transfer.json + transfer.md into the output folder (docs/edit.md).
"""

from __future__ import annotations

import argparse
import logging

from reducio.cli.arguments import integer, non_negative_int, non_negative_number, positive_int, seed

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval", help="evaluate VAE reconstructions or generated videos",
        description="Evaluate a VAE's reconstructions (PSNR, SSIM, LPIPS, rFVD) or generated videos "
                    "(shapes-world accuracy, CLIP score, temporal dimensions). See docs/evaluate.md.",
    )
    commands = parser.add_subparsers(dest="eval_command", metavar="{recon,gen,i2v,edit,transfer}")
    _register_recon(commands)
    _register_gen(commands)
    _register_i2v(commands)
    _register_edit(commands)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _register_recon(commands) -> None:
    from reducio.cli._vae_io import add_input_args, add_vae_args

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
    parser.set_defaults(func=run_recon)


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
    parser.set_defaults(func=run_gen)


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
    parser.set_defaults(func=run_i2v)


def run_recon(args: argparse.Namespace) -> int:
    import torch

    from reducio.cli._vae_io import BUILTIN_SIZES, load_vae, parse_size_arg, read_clip, resolve_device
    from reducio.data.reconstruction import reconstruct_clip
    from reducio.errors import ConfigError
    from reducio.eval.recon_run import file_samples, run_reconstruction, synthetic_samples

    if args.synthetic is not None:
        size = parse_size_arg(args.size) or BUILTIN_SIZES.get(str(args.vae), 64)
        if not isinstance(size, int):
            raise ConfigError(f"--synthetic clips are square: give --size S, got {args.size}")
        if args.count < 1:
            raise ConfigError(f"--count must be >= 1, got {args.count}")
        samples = synthetic_samples(args.synthetic, args.count, size=size, frames=args.frames or 16,
                                    start=args.synthetic_start)
        source = {"synthetic": args.synthetic, "start": args.synthetic_start, "size": size}
    else:
        from reducio.data.video_io import expand_inputs

        paths = expand_inputs(args.data)[: args.limit]
        samples = file_samples(paths, lambda p: read_clip(p, args))
        source = {"data": [str(d) for d in args.data], "size": args.size}
    vae, warning = load_vae(args)
    if warning:
        print(warning)
    device = resolve_device(args.device)
    lpips = i3d = None
    if args.lpips:
        from reducio.eval.lpips import LPIPS

        lpips = LPIPS.from_pretrained(args.lpips, net=args.lpips_net, backbone_path=args.lpips_backbone).to(device)
    elif args.lpips_backbone:
        raise ConfigError("--lpips-backbone needs --lpips (the lin-layer weights)")
    if args.i3d:
        from reducio.eval.i3d import InceptionI3d

        i3d = InceptionI3d.from_pretrained(args.i3d).to(device)

    def reconstruct(video: torch.Tensor, seed: int) -> torch.Tensor:
        generator = torch.Generator(vae.device).manual_seed(seed) if args.sample_posterior else None
        return reconstruct_clip(vae, video, batch_size=args.batch_size, sample_posterior=args.sample_posterior,
                                generator=generator)

    settings = {
        "vae": str(args.vae), **source, "frames": args.frames, "fps": args.fps,
        "sample_posterior": args.sample_posterior, "seed": args.seed, "dtype": args.dtype,
        "lpips_net": args.lpips_net if args.lpips else None,
    }
    summary = run_reconstruction(samples, reconstruct, args.output, settings, lpips=lpips, i3d=i3d,
                                 i3d_features=args.i3d_features, seed=args.seed)
    metrics = summary["metrics"]
    parts = [f"{name} {metrics[name]['mean']:.4f}" for name in ("psnr", "ssim", "lpips") if name in metrics]
    if summary.get("rfvd") is not None:
        parts.append(f"rFVD {summary['rfvd']:.2f}")
    print(f"{summary['clips']} clips: " + ", ".join(parts) + f" -> {args.output}/report.md")
    return 0


def run_gen(args: argparse.Namespace) -> int:
    from reducio.cli._vae_io import resolve_device
    from reducio.eval.gen_run import generate_missing, read_prompt_file, run_generation

    items = read_prompt_file(args.prompts, args.videos, generate=args.generate is not None)
    if args.generate is not None:
        from reducio.errors import ConfigError
        from reducio.pipelines import ReducioTextToVideoPipeline, has_stage1

        if not has_stage1(args.generate):
            raise ConfigError(
                f"--generate {args.generate}: an image-to-video pipeline cannot make videos from prompts "
                "alone; give a text-to-video pipeline folder (one with a stage-1 image generator)"
            )
        pipeline = ReducioTextToVideoPipeline.from_pretrained(args.generate,
                                                              device=resolve_device(args.device))
        pipeline.set_progress_bar_config(disable=True)
        made = generate_missing(items, pipeline, seed=args.seed, frames=args.frames)
        logger.info("generated %d of %d videos into %s", made, len(items), args.videos)
    scorer = None
    if args.clip:
        from reducio.eval.clip_score import CLIPScorer

        scorer = CLIPScorer.from_pretrained(args.clip, device=resolve_device(args.device))
    summary = run_generation(items, args.output, clip_scorer=scorer)
    shapes = summary["shapes"]
    line = f"{summary['videos']} videos"
    if shapes["count"]:
        line += f"; shapes joint accuracy {shapes['joint']:.3f} over {shapes['count']} canonical prompts"
    if "clip_score" in summary["metrics"]:
        line += f"; CLIP score {summary['metrics']['clip_score']['mean']:.2f}"
    print(line + f" -> {args.output}/report.md")
    return 0


def run_i2v(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import torch

    from reducio.data.synthetic.world import parse_split_spec
    from reducio.eval.world_i2v import load_i2v_pipeline, world_i2v_split

    for spec in args.splits:
        parse_split_spec(spec)  # a bad split or motion set fails before the pipeline loads
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    pipe = load_i2v_pipeline(args.pipeline, lora=args.lora, lora_scale=args.lora_scale)
    report = {
        "pipeline": args.pipeline or "builtin", "lora": args.lora, "lora_scale": args.lora_scale if args.lora else None,
        "steps": args.steps, "guidance": args.guidance, "seed": args.seed, "size": args.size,
        "threads": torch.get_num_threads(),
        "splits": {spec: world_i2v_split(pipe, spec, args.count, size=args.size, seed=args.seed, steps=args.steps,
                                         guidance=args.guidance, progress=logger.info)
                   for spec in args.splits},
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    for spec, result in report["splits"].items():
        acc = result["accuracy"]
        print(f"{spec}: joint {acc['joint']:.3f} (direction {acc['direction']:.3f}, shape {acc['shape']:.3f}) over "
              f"{result['prompts']} clips; shuffled control {result['shuffled_control']['joint']:.3f}; "
              f"{result['seconds_per_video']:.2f} s/video")
    print(f"-> {output}")
    return 0


def _register_edit(commands) -> None:
    """`eval edit` and `eval transfer`: defined beside `reducio edit` and `reducio transfer`."""
    from reducio.cli import edit, transfer

    edit.register_eval(commands)
    transfer.register_eval(commands)
