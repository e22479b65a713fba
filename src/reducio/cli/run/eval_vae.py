"""`reducio eval vae`: a VAE on the shapes world (`reducio.eval.vae_world`), one line per split and
an optional JSON report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from reducio.cli.outputs import check_output_file
from reducio.data.synthetic.world import parse_split_spec
from reducio.eval.vae_world import load_model, vae_world_split


def run(args: argparse.Namespace) -> int:
    if args.output is not None:
        check_output_file(args.output, (".json",), "JSON report")
    splits = [parse_split_spec(split)[0] for split in args.splits]  # a bad split fails before the VAE loads
    torch.set_num_threads(args.threads)
    vae = load_model(args.vae)
    results: dict[str, object] = {"vae": args.vae}
    for split in splits:
        results[split] = vae_world_split(vae, split, args.count)
        print(split, json.dumps(results[split]), flush=True)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    return 0
