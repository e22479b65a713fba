import pytest
import torch
from diffusers.models.embeddings import get_2d_sincos_pos_embed, get_timestep_embedding

from reducio.models.dit.embeddings import (
    content_positions,
    sincos_1d,
    timestep_embedding,
    video_pos_embed,
    video_positions,
)


def test_timestep_embedding_matches_pixart_in_diffusers():
    t = torch.tensor([0, 1, 17, 999, 500.5])
    ours = timestep_embedding(t, 256)
    # PixArt's Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0)
    ref = get_timestep_embedding(t, 256, flip_sin_to_cos=True, downscale_freq_shift=0)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize("grid,base", [(8, 16), (16, 16), (5, None), (32, 16)])
def test_single_frame_spatial_embedding_is_pixarts(grid, base):
    dim = 64
    ours = video_pos_embed(dim, (1, grid, grid), (1, 1, 1), base)
    # diffusers/PixArt: positions arange(g) / (g / base_size); base_size = g gives integers.
    ref = get_2d_sincos_pos_embed(dim, grid, base_size=base or grid, interpolation_scale=1.0)
    torch.testing.assert_close(ours.float(), ref.float(), rtol=0, atol=1e-5)


def test_temporal_part_is_added_per_frame_and_zero_at_frame_0():
    dim, grid = 32, (3, 2, 4)
    full = video_pos_embed(dim, grid, (1, 1, 1), 16).reshape(3, 8, dim)
    spatial = video_pos_embed(dim, (1, 2, 4), (1, 1, 1), 16)
    for t in range(3):
        expected = spatial + sincos_1d(dim, torch.tensor([float(t)])) - sincos_1d(dim, torch.zeros(1))
        torch.testing.assert_close(full[t], expected)


def test_temporal_positions_count_latent_frames_with_temporal_patch():
    dim = 32
    patched = video_pos_embed(dim, (2, 1, 1), (2, 1, 1), None)
    unpatched = video_pos_embed(dim, (4, 1, 1), (1, 1, 1), None)
    torch.testing.assert_close(patched, unpatched[[0, 2]])


def test_spatial_step_is_isotropic_and_keeps_aspect_ratio():
    rows, cols = video_positions((24, 42), (1, 1), 16)
    step_rows = rows.reshape(24, 42)[1, 0] - rows.reshape(24, 42)[0, 0]
    step_cols = cols.reshape(24, 42)[0, 1] - cols.reshape(24, 42)[0, 0]
    assert step_rows == pytest.approx(step_cols)
    assert step_rows == pytest.approx(16 / (24 * 42) ** 0.5)


@pytest.mark.parametrize("patch", [(1, 1), (2, 2)])
def test_content_tokens_under_a_video_patch_average_to_its_position(patch):
    h, w = 4, 6                              # video latent (H/32)
    content_grid = (2 * h, 2 * w)            # content tokens (H/16)
    vr, vc = video_positions((h // patch[0], w // patch[1]), patch, 16)
    cr, cc = content_positions(content_grid, (h, w), patch, 16)
    cr, cc = cr.reshape(content_grid), cc.reshape(content_grid)
    per = (2 * patch[0], 2 * patch[1])       # content tokens per video patch along each axis
    mean_r = cr.reshape(h // patch[0], per[0], w // patch[1], per[1]).mean(dim=(1, 3))
    mean_c = cc.reshape(h // patch[0], per[0], w // patch[1], per[1]).mean(dim=(1, 3))
    torch.testing.assert_close(mean_r.reshape(-1), vr)
    torch.testing.assert_close(mean_c.reshape(-1), vc)
