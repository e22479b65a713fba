"""`reducio eval gen`: score generated videos against their prompts (generating the missing ones
first with --generate)."""

from __future__ import annotations

import argparse
import logging

from reducio.cli.device import resolve_device
from reducio.errors import ConfigError
from reducio.eval.clip_score import CLIPScorer
from reducio.eval.gen_run import generate_missing, read_prompt_file, run_generation
from reducio.pipelines import ReducioTextToVideoPipeline, has_stage1

logger = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    items = read_prompt_file(args.prompts, args.videos, generate=args.generate is not None)
    if args.generate is not None:
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
