"""Tile seams: is the reconstruction error higher along the tile borders of a tiled decode?

The release's high-resolution path decodes overlapping tiles and stitches them every
`tile_sample_min_size` pixels (docs/architecture.md §2.8). A seam shows as extra error in a band around those
stitch lines. `seam_band_errors` splits the absolute error into the band (within `band` pixels of a
stitch line, rows or columns) and the rest ("inside tiles"); the same split of an untiled decode of
the same clips is the control: its band has no stitch, so any band/inside ratio it shows comes from
the content, not from tiling.
"""

from __future__ import annotations

import torch


def stitch_band_mask(height: int, width: int, period: int, band: int) -> torch.Tensor:
    """(H, W) bool: True within `band` px of a stitch line at every multiple of `period` that lies
    strictly inside the frame (rows and columns)."""
    if period <= 0 or band <= 0:
        raise ValueError(f"period and band must be positive, got {period} and {band}")

    def near(n: int) -> torch.Tensor:
        centres = (torch.arange(n) + 0.5)[:, None]                 # pixel centres
        lines = torch.arange(period, n, period, dtype=torch.float32)[None]
        if lines.numel() == 0:
            return torch.zeros(n, dtype=torch.bool)
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
