"""Tiling helpers against a literal, in-place transcription of the release's blending rules
(fixtures README, "Tiling semantics")."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from reducio.models.vae.tiling import (blend, tiled_decode, tiled_encode_content,
                                       tiled_encode_video, tiling_triggered)


def _blend_v_inplace(a, b, extent):  # README formula, H = axis -2, written row by row
    e = min(a.shape[-2], b.shape[-2], extent)
    for y in range(e):
        b[..., y, :] = a[..., -e + y, :] * (1 - y / e) + b[..., y, :] * (y / e)
    return b


def _blend_h_inplace(a, b, extent):
    e = min(a.shape[-1], b.shape[-1], extent)
    for x in range(e):
        b[..., x] = a[..., -e + x] * (1 - x / e) + b[..., x] * (x / e)
    return b


def _reference_grid(rows, extent_v, extent_h):
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            if i > 0:
                tile = extent_v(rows[i - 1][j], tile)
            if j > 0:
                tile = extent_h(row[j - 1], tile)
    return rows


def _encode(x):  # a stand-in "encoder": 4x average pooling of a 5D tile, plus a nonlinearity
    return torch.tanh(F.avg_pool3d(x, (1, 4, 4))) + x.mean()


def test_blend_matches_row_loop():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 3, 7, 5, generator=g), torch.randn(2, 3, 4, 5, generator=g)
    assert torch.allclose(blend(a, b, 3, -2), _blend_v_inplace(a, b.clone(), 3))
    left = torch.randn(2, 3, 4, 3, generator=g)
    assert torch.allclose(blend(left, b, 9, -1), _blend_h_inplace(left, b.clone(), 9))  # clipped
    assert torch.equal(blend(a, b, 0, -2), b)


@pytest.mark.parametrize("height, width", [(40, 40), (48, 24), (28, 44)])
def test_tiled_encode_video_matches_inplace_reference(height, width):
    sample, overlap, latent = 16, 0.25, 4  # tile 20 px, stride 16, latent tile 4, extent 1
    x = torch.randn(1, 2, 3, height, width, generator=torch.Generator().manual_seed(1))
    ours = tiled_encode_video(_encode, x, sample_size=sample, overlap=overlap, latent_size=latent)
    size = int(sample * (1 + overlap))
    rows = [[_encode(x[..., i:i + size, j:j + size]) for j in range(0, width, sample)]
            for i in range(0, height, sample)]
    extent = int(latent * overlap)
    _reference_grid(rows, lambda a, b: _blend_v_inplace(a, b, extent),
                    lambda a, b: _blend_h_inplace(a, b, extent))
    ref = torch.cat([torch.cat([t[..., :latent, :latent] for t in row], -1) for row in rows], -2)
    assert ours.shape == ref.shape == (1, 2, 3, height // 4, width // 4)
    assert torch.allclose(ours, ref, atol=1e-6)


def test_tiled_content_and_decode_match_inplace_reference():
    sample, overlap, latent = 16, 0.25, 2  # 32 px frames -> latent / 8; blend extent 4 px
    image = torch.randn(1, 2, 40, 56, generator=torch.Generator().manual_seed(2))

    def encode_2d(tile):  # two "levels": full and half resolution
        return [torch.sin(tile), F.avg_pool2d(tile, 2)]

    grid = tiled_encode_content(encode_2d, image, sample_size=sample, overlap=overlap)
    size = int(sample * (1 + overlap))
    rows = [[encode_2d(image[..., i:i + size, j:j + size]) for j in range(0, 56, sample)]
            for i in range(0, 40, sample)]

    def per_level(fn, dim):
        def go(a, b):
            for k in range(len(a)):
                fn(a[k], b[k], int(a[k].shape[dim] / (1 + overlap) * overlap))
            return b
        return go

    _reference_grid(rows, per_level(_blend_v_inplace, -2), per_level(_blend_h_inplace, -1))
    assert len(grid) == 3 and len(grid[0]) == 4
    for r in range(3):
        for c in range(4):
            for ours, ref in zip(grid[r][c], rows[r][c]):
                assert ours.shape == ref.shape  # not cropped
                assert torch.allclose(ours, ref, atol=1e-6)

    z = torch.randn(1, 2, 1, 5, 7, generator=torch.Generator().manual_seed(3))

    def decode(zt, feats):  # upsample the latent by 8 and mix in the tile's first feature map
        up = F.interpolate(zt, scale_factor=(1, 8, 8))
        f = feats[0].mean() if feats is not None else 0.0
        return up + f

    ours = tiled_decode(decode, z, grid, sample_size=sample, overlap=overlap, latent_size=latent)
    lsize = int(latent * (1 + overlap))
    drows = [[decode(z[..., i:i + lsize, j:j + lsize], grid[i // latent][j // latent])
              for j in range(0, 7, latent)] for i in range(0, 5, latent)]
    e = int(sample * overlap)
    _reference_grid(drows, lambda a, b: _blend_v_inplace(a, b, e), lambda a, b: _blend_h_inplace(a, b, e))
    ref = torch.cat([torch.cat([t[..., :sample, :sample] for t in row], -1) for row in drows], -2)
    assert ours.shape == (1, 2, 1, 40, 56)
    assert torch.allclose(ours, ref, atol=1e-6)


def test_trigger_rule():
    kw = {"enabled": True, "sample_size": 256, "overlap": 0.25}
    assert not tiling_triggered(320, 2048, **kw)  # width not checked (release)
    assert tiling_triggered(352, 256, **kw)
    assert tiling_triggered(256, 352, width_too=True, **kw)
    assert not tiling_triggered(1024, 1024, enabled=False, sample_size=256, overlap=0.25)
