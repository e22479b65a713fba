"""`reducio eval dit-conditions`: a DiT's x0 error with the right, a direction-swapped and no caption,
per noise level, printed as a table (`reducio.eval.dit_conditions`)."""

from __future__ import annotations

import argparse

import torch

from reducio.eval.dit_conditions import VARIANTS, spread_items, x0_error_by_condition
from reducio.models.dit import ReducioDiT
from reducio.pipelines.components import load_text_encoder


def run(args: argparse.Namespace) -> int:
    torch.manual_seed(args.seed)
    dit = ReducioDiT.from_pretrained(args.dit).eval()
    items = spread_items(args.data, args.count)
    errors = x0_error_by_condition(dit, items, load_text_encoder("minilm"))
    print(f"{args.dit} ({dit.config.prediction_type}), {len(items)} clips: x0 MSE per noise level")
    print("level  " + "  ".join(f"{name:>17}" for name in VARIANTS))
    for level, row in errors.items():
        print(f"{level:5d}  " + "  ".join(f"{row[name]:17.3f}" for name in VARIANTS))
    return 0
