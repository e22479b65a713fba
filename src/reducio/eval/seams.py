"""Tile seams: is the reconstruction error higher along the tile borders of a tiled decode?

The release's high-resolution path decodes overlapping tiles and stitches them every
`tile_sample_min_size` pixels (docs/architecture.md §2.8). A seam shows as extra error in a band around those
stitch lines. `seam_band_errors` splits the absolute error into the band (within `band` pixels of a
stitch line, rows or columns) and the rest ("inside tiles"); the same split of an untiled decode of
the same clips is the control: its band has no stitch, so any band/inside ratio it shows comes from
the content, not from tiling. `tile_seams` runs both decodes over shapes-world clips
(`reducio eval seams`).
"""

from __future__ import annotations

import time
from typing import Any, Callable

import torch

from reducio.data.reconstruction import reconstruct_clip
from reducio.data.synthetic.world import ShapesDataset
from reducio.errors import ConfigError
from reducio.eval.reconstruction import psnr


def stitch_band_mask(height: int, width: int, period: int, band: int) -> torch.Tensor:
    """(H, W) bool: True within `band` px of a stitch line at every multiple of `period` that lies
    strictly inside the frame (rows and columns)."""
    if period <= 0 or band <= 0:
        raise ValueError(f"period and band must be positive, got {period} and {band}")

    def near(n: int) -> torch.Tensor:
        centres = (torch.arange(n) + 0.5)[:, None]                 # pixel centres
        if period >= n:  # one tile spans the frame: no stitch line
            return torch.zeros(n, dtype=torch.bool)
        lines = torch.arange(period, n, period, dtype=torch.float32)[None]
        return ((centres - lines).abs() < band).any(dim=1)

    rows, cols = near(height), near(width)
    return rows[:, None] | cols[None, :]


def seam_band_errors(reference: torch.Tensor, reconstruction: torch.Tensor, *, period: int,
                     band: int = 16) -> dict[str, float]:
    """Mean absolute error (on the videos' own scale) in the stitch band and inside the tiles.

    reference, reconstruction: (B, C, T, H, W) or (C, T, H, W). Returns band, inside, their ratio
    and the band's share of the pixels."""
    if reference.shape != reconstruction.shape:
        raise ValueError(f"reference {tuple(reference.shape)} and reconstruction "
                         f"{tuple(reconstruction.shape)} differ in shape")
    height, width = reference.shape[-2:]
    mask = stitch_band_mask(height, width, period, band)
    if not mask.any():
        raise ValueError(f"a {height}x{width} frame has no stitch line at multiples of {period} px: "
                         "no tile border to measure (use a frame larger than one tile)")
    error = (reference.float() - reconstruction.float()).abs()
    error = error.reshape(-1, height, width).mean(dim=0)          # H W, averaged over B C T
    in_band, inside = error[mask].mean().item(), error[~mask].mean().item()
    return {"band": in_band, "inside": inside,
            "ratio": in_band / inside if inside > 0 else float("inf"),
            "band_fraction": mask.float().mean().item()}


def tile_seams(vae, split: str, *, size: int, count: int, band: int,
               progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Reconstruct `count` clips of a shapes-world split at `size` px tiled (the release's path) and
    untiled with the same VAE; per mode the mean band / inside error, their ratio, PSNR and the
    band's share of the pixels, and the per-clip rows."""
    period = vae.tile_sample_min_size
    if size <= period:
        raise ConfigError(f"--size {size}: one {period} px tile spans the frame, so there is no stitch line "
                          f"to measure; use a size above {period} (e.g. {2 * period})")
    data = ShapesDataset(split, size=size, length=count)
    per_mode: dict[str, list[dict]] = {"tiled": [], "untiled": []}
    started = time.time()
    for i in range(count):
        video = data[i]["video"]                                                    # 3 T H W
        for mode, rows in per_mode.items():
            vae.enable_tiling() if mode == "tiled" else vae.disable_tiling()
            with torch.no_grad():
                recon = reconstruct_clip(vae, video)
            row = seam_band_errors(video, recon, period=period, band=band)
            row["psnr"] = psnr(video[None], recon[None]).item()
            rows.append(row)
        if progress is not None:
            progress(f"clip {i + 1}/{count}: tiled band/inside {per_mode['tiled'][-1]['ratio']:.3f}, "
                     f"untiled {per_mode['untiled'][-1]['ratio']:.3f} ({time.time() - started:.0f} s)")
    summary = {mode: {key: sum(r[key] for r in rows) / len(rows)
                      for key in ("band", "inside", "psnr", "band_fraction")}
               for mode, rows in per_mode.items()}
    for values in summary.values():
        values["ratio"] = values["band"] / values["inside"]
    return {"split": split, "size": size, "count": count, "band_px": band, "stitch_period_px": period,
            "tile_overlap_factor": vae.tile_overlap_factor, "summary": summary, "per_clip": per_mode}
