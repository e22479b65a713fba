"""`reducio extract`: videos (+ captions) or the synthetic world -> latent shards for DiT training.

    reducio extract VIDEOS [--captions captions.csv] --output shards/ [--vae ft4] [--size 256 | --buckets 256]
    reducio extract --synthetic train --count 2000 --size 64 --vae runs/vae-tiny-cpu/final --output shards/
    torchrun --nproc_per_node 8 -m reducio.cli.main extract ...   (each process writes its own shards)

Re-running the same command resumes: complete shards are skipped. docs/extract-latents.md. The
parser; the work is `reducio.cli.run.extract`.
"""

from __future__ import annotations

from reducio.cli.arguments import DTYPE_NAMES, integer, non_negative_int, positive_int, positive_number, seed


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
    p.add_argument("--dtype", choices=DTYPE_NAMES, default="fp32", help="encoder weights dtype")
    p.add_argument("--seed", type=seed, default=0, help="seeds the posterior samples (per clip)")
    p.add_argument("--local-files-only", action="store_true", help="never download encoders")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run="reducio.cli.run.extract")

