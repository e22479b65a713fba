import pytest
import torch

from reducio.errors import ShapeError
from reducio.models.dit import patchify, unpatchify
from reducio.models.dit.patchify import check_patchable, patchify_2d


@pytest.mark.parametrize("patch", [(1, 1, 1), (1, 2, 2), (2, 2, 2), (2, 1, 2)])
def test_round_trip(patch):
    latent = torch.randn(2, 5, 4, 6, 8)
    tokens = patchify(latent, patch)
    grid = (4 // patch[0], 6 // patch[1], 8 // patch[2])
    assert tokens.shape == (2, grid[0] * grid[1] * grid[2], 5 * patch[0] * patch[1] * patch[2])
    assert torch.equal(unpatchify(tokens, patch, grid), latent)
    assert torch.equal(patchify(unpatchify(tokens, patch, grid), patch), tokens)


def test_tokens_are_in_t_h_w_raster_order():
    latent = torch.randn(1, 3, 2, 3, 4)
    tokens = patchify(latent, (1, 1, 1))
    n = 0
    for t in range(2):
        for h in range(3):
            for w in range(4):
                assert torch.equal(tokens[0, n], latent[0, :, t, h, w])
                n += 1


def test_patch_values_are_channel_major():
    latent = torch.randn(1, 2, 2, 2, 2)
    token = patchify(latent, (2, 2, 2))[0, 0]
    assert torch.equal(token, latent[0].reshape(-1))  # (c pt ph pw) order


def test_patchify_2d_grid():
    image_latent = torch.randn(2, 4, 8, 6)
    grid = patchify_2d(image_latent, 2)
    assert grid.shape == (2, 4, 3, 16)
    assert torch.equal(grid[1, 2, 1], image_latent[1, :, 4:6, 2:4].reshape(-1))


def test_bad_shapes_raise_shape_error():
    with pytest.raises(ShapeError, match="multiples of the patch size"):
        check_patchable(torch.zeros(1, 16, 4, 3, 4), (1, 2, 2), 16)
    with pytest.raises(ShapeError, match="16 channels"):
        check_patchable(torch.zeros(1, 4, 4, 2, 2), (1, 1, 1), 16)
    with pytest.raises(ShapeError, match="5D"):
        check_patchable(torch.zeros(16, 4, 2, 2), (1, 1, 1), 16)
