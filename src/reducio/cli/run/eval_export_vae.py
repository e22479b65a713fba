"""`reducio eval export-vae`: the best checkpoint of VAE runs, saved with its measured metadata.json."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from reducio.cli.outputs import check_output_folder
from reducio.errors import ConfigError
from reducio.eval.vae_export import best_checkpoint, checkpoint_provenance, export_vae, run_checkpoints
from reducio.eval.vae_world import load_checkpoint
from reducio.loading.sources import assets_root
from reducio.models.vae import ReducioVAE


def run(args: argparse.Namespace) -> int:
    output = check_output_folder(args.output if args.output is not None else assets_root() / "vae-tiny")
    torch.set_num_threads(args.threads)
    if args.vae is not None:
        if not args.train_command or args.steps is None:
            raise ConfigError("--vae needs --command (what trained it) and --steps (how many steps)")
        metadata = export_vae(ReducioVAE.from_pretrained(args.vae), output, count=args.count, step=args.steps,
                              command=args.train_command, source=str(args.vae), loss=None, lr=None)
    else:
        candidates = [Path(args.checkpoint)] if args.checkpoint is not None else run_checkpoints(args.runs)
        best = best_checkpoint(candidates, args.count)
        made = checkpoint_provenance(best)
        metadata = export_vae(load_checkpoint(best), output, count=args.count, step=made["step"],
                              command=made["command"], source=str(best), loss=made["loss"], lr=made["lr"])
    print(json.dumps(metadata, indent=2))
    return 0
