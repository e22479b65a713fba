"""`reducio eval seams`: tile-seam error of a VAE's tiled decode against its untiled decode."""

from __future__ import annotations

import argparse
import json
import logging

import torch

from reducio.cli.outputs import check_output_file
from reducio.data.synthetic.world import parse_split_spec
from reducio.eval.seams import tile_seams
from reducio.models.vae import ReducioVAE

logger = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    output = check_output_file(args.output, (".json",), "JSON report")
    split = parse_split_spec(args.split)[0]
    if args.threads:
        torch.set_num_threads(args.threads)
    vae = ReducioVAE.from_pretrained(args.vae).eval()
    record = {"vae": args.vae, **tile_seams(vae, split, size=args.size, count=args.count, band=args.band,
                                            progress=logger.info)}
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(record, indent=1))
    for mode, s in record["summary"].items():
        print(f"{mode:8s} band {s['band']:.4f}  inside {s['inside']:.4f}  ratio {s['ratio']:.3f}  "
              f"PSNR {s['psnr']:.2f} dB")
    print(f"wrote {output}")
    return 0
