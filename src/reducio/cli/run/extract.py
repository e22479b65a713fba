"""`reducio extract`: encode clips into latent shards (`reducio.pipelines.extract`)."""

from __future__ import annotations

import argparse

from reducio.cli.outputs import check_output_folder
from reducio.errors import ConfigError
from reducio.pipelines.extract import ExtractConfig, extract


def config_from_args(args: argparse.Namespace):
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
    config = config_from_args(args)
    report = extract(config, progress=not args.no_progress)
    where = f"rank {report.rank}/{report.world_size}: " if report.world_size > 1 else ""
    print(f"{where}{report.clips_written} clips in {report.shards_written} new shard(s) "
          f"({report.clips_per_second:.2f} clips/s); {report.shards_skipped} shard(s) already complete "
          f"({report.items_done_before} items); {len(report.failed)} item(s) skipped as unreadable -> {config.output}")
    for failure in report.failed[:10]:
        print(f"  skipped item {failure['item']}: {failure['error']}")
    return 0
