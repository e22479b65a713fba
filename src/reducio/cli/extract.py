"""`reducio extract`: videos (+ captions) or the synthetic world -> latent shards for DiT training.

    reducio extract VIDEOS [--captions captions.csv] --output shards/ [--vae ft4] [--size 256 | --buckets 256]
    reducio extract --synthetic train --count 2000 --size 64 --vae runs/vae-tiny-cpu/final --output shards/
    torchrun --nproc_per_node 8 -m reducio.cli.main extract ...   (each process writes its own shards)

Re-running the same command resumes: complete shards are skipped. docs/extract-latents.md.
"""

from __future__ import annotations

import argparse
import logging

from reducio.cli.arguments import integer, non_negative_int, positive_int, positive_number, seed

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "extract", help="encode clips into latent shards for DiT training (resumable, multi-process)",
        description="Encode clips with Reducio-VAE and the condition encoders into latent shards "
                    "(docs/extract-latents.md). Scale out with torchrun: RANK/WORLD_SIZE split the items.")
    p.add_argument("videos", nargs="?", default=None, help="folder, file or glob of videos (not with --synthetic)")
    p.add_argument("--captions", default=None, help="CSV or JSONL with a path and a caption column")
    p.add_argument("--synthetic", metavar="SPLIT", default=None,
                   help="use the synthetic shapes world split (train, validation, test, heldout)")
    p.add_argument("--count", type=positive_int, default=1000, help="synthetic clips (default 1000)")
    p.add_argument("--start", type=non_negative_int, default=0, help="first synthetic clip index")
    p.add_argument("--output", "-o", required=True, help="folder of shards (created; re-run to resume)")
    p.add_argument("--frames", type=positive_int, default=16)
    p.add_argument("--size", type=integer(32), default=256, help="square clip side (default 256; 64 for the shapes world)")
    p.add_argument("--buckets", type=int, choices=(256, 512, 1024), default=None,
                   help="PixArt aspect-ratio buckets of this base size instead of squares")
    p.add_argument("--fps", type=positive_number, default=16.0)
    p.add_argument("--sampling", choices=("nearest", "stride"), default="nearest",
                   help="frame selection: nearest timestamps, or the release's integer stride")
    p.add_argument("--clips-per-video", type=positive_int, default=1, help="windows spread evenly over each video")
    p.add_argument("--vae", default="ft4",
                   help="VAE: built-in name, folder, .safetensors, official .ckpt or hub id; random:PRESET[@SEED] "
                        "for a seeded random init (smoke tests)")
    p.add_argument("--latent", choices=("sample", "mode"), default="sample",
                   help="store a posterior sample (the release) or the posterior mode")
    p.add_argument("--tiling", action="store_true", help="encode with spatial tiling (large frames)")
    p.add_argument("--text-encoder", default="minilm", help="minilm (built-in) or a T5 folder / hub id")
    p.add_argument("--text-max-length", type=positive_int, default=None, help="tokens (default: MiniLM 64, T5 120)")
    p.add_argument("--semantic-encoder", default=None,
                   help="also store semantic tokens: patch-pixel (built-in) or an OpenCLIP ViT-H-14 folder / id")
    p.add_argument("--content-encoder", default=None,
                   help="also store the content latent: pooled-rgb (built-in) or an SD-VAE folder / id")
    p.add_argument("--content-frame-dtype", choices=("uint8", "fp16"), default="uint8")
    p.add_argument("--shard-size", type=positive_int, default=64, help="items per shard (default 64)")
    p.add_argument("--batch-size", type=positive_int, default=4, help="clips per encoder batch")
    p.add_argument("--device", default=None, help="default: cuda:LOCAL_RANK when available, else cpu")
    p.add_argument("--dtype", choices=("fp32", "fp16", "bf16"), default="fp32", help="encoder weights dtype")
    p.add_argument("--seed", type=seed, default=0, help="seeds the posterior samples (per clip)")
    p.add_argument("--local-files-only", action="store_true", help="never download encoders")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    from reducio.cli.outputs import check_output_folder
    from reducio.pipelines.extract import ExtractConfig
    from reducio.errors import ConfigError

    if args.synthetic and (args.videos or args.captions):
        raise ConfigError("pass either --synthetic SPLIT or videos / --captions, not both")
    check_output_folder(args.output, "folder of latent shards", "--output")
    return ExtractConfig(
        output=args.output, source="synthetic" if args.synthetic else "folder", videos=args.videos,
        captions=args.captions, split=args.synthetic or "train", count=args.count, start=args.start,
        frames=args.frames, size=args.size, buckets=args.buckets, fps=args.fps, sampling=args.sampling,
        clips_per_video=args.clips_per_video, vae=args.vae, latent=args.latent, tiling=args.tiling,
        text_encoder=args.text_encoder, text_max_length=args.text_max_length,
        semantic_encoder=args.semantic_encoder, content_encoder=args.content_encoder,
        content_frame_dtype=args.content_frame_dtype, shard_size=args.shard_size, batch_size=args.batch_size,
        device=args.device, dtype=args.dtype, seed=args.seed, local_files_only=args.local_files_only,
    )


def run(args: argparse.Namespace) -> int:
    from reducio.pipelines.extract import extract

    config = config_from_args(args)
    report = extract(config, progress=not args.no_progress)
    where = f"rank {report.rank}/{report.world_size}: " if report.world_size > 1 else ""
    print(f"{where}{report.clips_written} clips in {report.shards_written} new shard(s) "
          f"({report.clips_per_second:.2f} clips/s); {report.shards_skipped} shard(s) already complete "
          f"({report.items_done_before} items); {len(report.failed)} item(s) skipped as unreadable -> {config.output}")
    for failure in report.failed[:10]:
        print(f"  skipped item {failure['item']}: {failure['error']}")
    return 0
