"""Spatial tiling for high-resolution clips, exactly as the release (docs/architecture.md §2.8, §7.10).

With S = tile_sample_min_size, o = tile_overlap_factor, L = S / 32 (latent tile):
- video / content frame: tiles [i : i + int(S(1+o)), j : j + int(S(1+o))] for i, j stepping by S;
- latent: tiles [i : i + int(L(1+o)), j : j + int(L(1+o))] stepping by L, decoded with the
  content features of tile (i // L, j // L);
- neighbours are blended linearly over `extent` rows/columns, in raster order, first with the
  tile above then with the tile to the left, each tile seeing the ALREADY blended neighbours
  (the release blends in place; we store the blended tile back, which is the same computation
  and keeps autograd happy);
- moment tiles are cropped to L x L and pixel tiles to S x S before concatenation; content
  feature tiles are blended (per level, extent int(a_k / (1+o) * o)) but never cropped.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from reducio.errors import ConfigError

# The release's tile: 256 px tiles overlapping by 25 % (its 1024 px configs; constructor default 0.2).
DEFAULT_TILE_SAMPLE_MIN_SIZE = 256
DEFAULT_TILE_OVERLAP_FACTOR = 0.25

Tile = torch.Tensor
Features = tuple[torch.Tensor, ...]


def tiling_triggered(height: int, width: int, *, enabled: bool, sample_size: int,
                     overlap: float, width_too: bool = False) -> bool:
    """The release tiles only when the HEIGHT exceeds int(S * (1 + o)); the width is not checked
    (a 256x1024 clip is encoded in one piece). `width_too` also checks the width (our option)."""
    limit = int(sample_size * (1 + overlap))
    return enabled and (height > limit or (width_too and width > limit))


def check_tile_settings(sample_size: int, overlap: float, space_downsample: int) -> None:
    """ConfigError unless S is a positive multiple of the spatial factor and o is in [0, 1)."""
    errors = []
    if isinstance(sample_size, bool) or not isinstance(sample_size, int) or sample_size < 1 \
            or sample_size % space_downsample:
        errors.append(f"tile_sample_min_size must be a positive multiple of the spatial factor "
                      f"{space_downsample}, got {sample_size!r}")
    if isinstance(overlap, bool) or not isinstance(overlap, (int, float)) or not 0.0 <= overlap < 1.0:
        errors.append(f"tile_overlap_factor must be in [0, 1), got {overlap!r}")
    if errors:
        raise ConfigError("invalid tiling: " + "; ".join(errors))


def blend(a: torch.Tensor, b: torch.Tensor, extent: int, dim: int) -> torch.Tensor:
    """b with its first e slices along `dim` replaced by a[-e + y] * (1 - y/e) + b[y] * (y/e),
    e = min(a.size(dim), b.size(dim), extent)."""
    e = min(a.shape[dim], b.shape[dim], extent)
    if e <= 0:
        return b
    # Python-float weights rounded once to the tensor dtype, like the release's scalar products.
    shape = [1] * b.ndim
    shape[dim] = e
    w_b = torch.tensor([y / e for y in range(e)], dtype=b.dtype, device=b.device).view(shape)
    w_a = torch.tensor([1 - y / e for y in range(e)], dtype=b.dtype, device=b.device).view(shape)
    head = a.narrow(dim, a.shape[dim] - e, e) * w_a + b.narrow(dim, 0, e) * w_b  # b's shape, e along dim
    return torch.cat([head, b.narrow(dim, e, b.shape[dim] - e)], dim=dim)       # b's shape


def _blend_grid(rows: list[list], blend_tile: Callable) -> None:
    """Raster-order blending with the tile above, then the tile to the left (in place in `rows`)."""
    for i, row in enumerate(rows):
        for j in range(len(row)):
            tile = row[j]
            if i > 0:
                tile = blend_tile(rows[i - 1][j], tile, vertical=True)
            if j > 0:
                tile = blend_tile(row[j - 1], tile, vertical=False)
            row[j] = tile


def _merge(rows: list[list[torch.Tensor]], limit: int) -> torch.Tensor:
    """Crop every tile to limit x limit on its last two axes and stitch W then H."""
    # each tile ... limit limit; a row ... limit cols*limit; the result ... rows*limit cols*limit
    return torch.cat([torch.cat([t[..., :limit, :limit] for t in row], dim=-1) for row in rows],
                     dim=-2)


def tiled_encode_video(encode: Callable[[torch.Tensor], torch.Tensor], video: torch.Tensor, *,
                       sample_size: int, overlap: float, latent_size: int) -> torch.Tensor:
    """video (B, C, T, H, W) -> merged moments (B, 2C', t, H/32, W/32)."""
    size = int(sample_size * (1 + overlap))
    extent = int(latent_size * overlap)
    height, width = video.shape[-2:]
    # tile: B C T size size -> B 2C' t size/32 size/32 moments
    rows = [[encode(video[..., i:i + size, j:j + size]) for j in range(0, width, sample_size)]
            for i in range(0, height, sample_size)]
    _blend_grid(rows, lambda a, b, vertical: blend(a, b, extent, -2 if vertical else -1))
    return _merge(rows, latent_size)  # B 2C' t H/32 W/32


def _blend_features(a: Features, b: Features, overlap: float, vertical: bool) -> Features:
    dim = -2 if vertical else -1
    # per level: extent from the neighbour's own size (the release ignores the blend_extent arg)
    return tuple(blend(fa, fb, int(fa.shape[dim] / (1 + overlap) * overlap), dim)
                 for fa, fb in zip(a, b))


def tiled_encode_content(encode: Callable[[torch.Tensor], Sequence[torch.Tensor]],
                         image: torch.Tensor, *, sample_size: int,
                         overlap: float) -> tuple[tuple[Features, ...], ...]:
    """image (B, C, H, W) -> grid[r][c] = blended, uncropped feature maps of tile (r, c)."""
    size = int(sample_size * (1 + overlap))
    height, width = image.shape[-2:]
    # tile: B C size size -> per level B C_k size/2^k size/2^k
    rows = [[tuple(encode(image[..., i:i + size, j:j + size]))
             for j in range(0, width, sample_size)] for i in range(0, height, sample_size)]
    _blend_grid(rows, lambda a, b, vertical: _blend_features(a, b, overlap, vertical))
    return tuple(tuple(row) for row in rows)


def tiled_decode(decode: Callable[[torch.Tensor, Features | None], torch.Tensor],
                 latent: torch.Tensor, grid: Sequence[Sequence[Features]] | None, *,
                 sample_size: int, overlap: float, latent_size: int) -> torch.Tensor:
    """latent (B, C, t, h, w) + content grid -> video (B, 3, T, 32h, 32w)."""
    size = int(latent_size * (1 + overlap))
    extent = int(sample_size * overlap)
    height, width = latent.shape[-2:]
    rows = []
    for i in range(0, height, latent_size):
        row = []
        for j in range(0, width, latent_size):
            feats = None if grid is None else grid[i // latent_size][j // latent_size]
            row.append(decode(latent[..., i:i + size, j:j + size], feats))  # B 3 T 32size 32size
        rows.append(row)
    _blend_grid(rows, lambda a, b, vertical: blend(a, b, extent, -2 if vertical else -1))
    return _merge(rows, sample_size)  # B 3 T 32h 32w
