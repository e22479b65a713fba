"""`reducio eval pipeline`: prompt following of a text-to-video (or, --image-to-video, image-to-video)
pipeline on the shapes world, one JSON report."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch

from reducio.cli.outputs import check_output_file
from reducio.data.synthetic.world import parse_split_spec
from reducio.errors import ConfigError
from reducio.eval.pipeline_world import pipeline_world_split
from reducio.pipelines import ReducioImageToVideoPipeline, ReducioTextToVideoPipeline

logger = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    if args.stage1_candidates is not None and args.image_to_video:
        raise ConfigError("--stage1-candidates reranks stage 1's frames; --image-to-video has no stage 1: "
                          "leave one of them out")
    output = check_output_file(args.output, (".json",), "JSON report")
    for split in args.splits:  # a bad split fails before the pipeline loads
        if parse_split_spec(split)[1] != "axis":
            raise ConfigError(f"--splits {split}: this measurement reads the four-way motion set only; "
                              "`reducio eval i2v` takes SPLIT:diagonal")
    torch.set_num_threads(args.threads)
    kind = ReducioImageToVideoPipeline if args.image_to_video else ReducioTextToVideoPipeline
    pipe = kind.from_pretrained(args.pipeline or "tiny")
    pipe.set_progress_bar_config(disable=True)
    report = {"pipeline": args.pipeline or "builtin", "image_to_video": args.image_to_video,
              "steps": args.steps, "guidance": args.guidance, "image_guidance": args.image_guidance,
              "stage1_candidates": args.stage1_candidates,
              "seed": args.seed, "size": args.size, "threads": args.threads,
              "splits": {split: pipeline_world_split(
                  pipe, split, args.count, size=args.size, seed=args.seed, steps=args.steps,
                  guidance=args.guidance, image_guidance=args.image_guidance,
                  stage1_candidates=args.stage1_candidates,
                  image_to_video=args.image_to_video, batch=args.batch, progress=logger.info)
                  for split in args.splits}}
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    for split, result in report["splits"].items():
        acc = result["accuracy"]
        print(f"{split}: joint {acc['joint']:.3f} (direction {acc['direction']:.3f}, shape {acc['shape']:.3f}) over "
              f"{result['prompts']} prompts; shuffled control {result['shuffled_control']['joint']:.3f}; "
              f"ghost share {result['ghost_share']['generated']:.4f} (world's own clips "
              f"{result['ghost_share']['world']:.4f}); {result['seconds_per_video']:.2f} s/video")
        motion = result["two_object_motion"]
        if motion["objects"]:
            print("  two objects moving different ways, each object's motion: " + ", ".join(
                f"{name} {n}" for name, n in motion.items() if name != "objects") + f" (of {motion['objects']})")
    print(f"-> {output}")
    return 0
