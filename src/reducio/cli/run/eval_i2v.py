"""`reducio eval i2v`: stage 2 alone on the shapes world, from each clip's true content frame."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch

from reducio.data.synthetic.world import parse_split_spec
from reducio.eval.world_i2v import load_i2v_pipeline, world_i2v_split

logger = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
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
