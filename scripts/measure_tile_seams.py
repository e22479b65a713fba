"""Tile seams of the tiled high-resolution path, with trained weights.

For `--count` clips of a shapes-world split at `--size` px, reconstruct each clip twice with the
same VAE: tiled (the release's path: overlapping tiles every `tile_sample_min_size` px, blended)
and untiled (the whole frame at once). For each, the mean absolute error (on [-1, 1]) in a band of
`--band` px around the stitch lines and inside the tiles (`reducio.eval.seams`), and PSNR. The
untiled decode is the control: the same band without a stitch.

    python scripts/measure_tile_seams.py --vae tiny --size 512 --count 8 -o runs/tile-seams.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch


def main() -> int:
    from reducio.data.reconstruction import reconstruct_clip
    from reducio.data.synthetic.world import ShapesDataset
    from reducio.eval import psnr
    from reducio.eval.seams import seam_band_errors
    from reducio.models.vae import ReducioVAE

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vae", default="tiny")
    p.add_argument("--split", default="test")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--count", type=int, default=8)
    p.add_argument("--band", type=int, default=16)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("-o", "--output", type=Path, required=True)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    vae = ReducioVAE.from_pretrained(args.vae).eval()
    period = vae.tile_sample_min_size
    data = ShapesDataset(args.split, size=args.size, length=args.count)
    per_mode: dict[str, list[dict]] = {"tiled": [], "untiled": []}
    started = time.time()
    for i in range(args.count):
        video = data[i]["video"]                                                    # 3 T H W
        for mode, rows in per_mode.items():
            vae.enable_tiling() if mode == "tiled" else vae.disable_tiling()
            with torch.no_grad():
                recon = reconstruct_clip(vae, video)
            row = seam_band_errors(video, recon, period=period, band=args.band)
            row["psnr"] = psnr(video[None], recon[None]).item()
            rows.append(row)
        print(f"clip {i + 1}/{args.count}: tiled band/inside {per_mode['tiled'][-1]['ratio']:.3f}, "
              f"untiled {per_mode['untiled'][-1]['ratio']:.3f} ({time.time() - started:.0f} s)",
              flush=True)
    summary = {mode: {key: sum(r[key] for r in rows) / len(rows)
                      for key in ("band", "inside", "psnr", "band_fraction")}
               for mode, rows in per_mode.items()}
    for s in summary.values():
        s["ratio"] = s["band"] / s["inside"]
    record = {"vae": args.vae, "split": args.split, "size": args.size, "count": args.count,
              "band_px": args.band, "stitch_period_px": period,
              "tile_overlap_factor": vae.tile_overlap_factor, "summary": summary,
              "per_clip": per_mode}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=1))
    for mode, s in summary.items():
        print(f"{mode:8s} band {s['band']:.4f}  inside {s['inside']:.4f}  ratio {s['ratio']:.3f}  "
              f"PSNR {s['psnr']:.2f} dB")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
