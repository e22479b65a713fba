"""Appendix Fig. 2 (our reading): 4 interleaved content sub-grids fed to successive blocks."""

import pytest
import torch
from dit_helpers import make_inputs, randomize, run, tiny_config

from reducio.errors import ShapeError
from reducio.models.dit import (
    ReducioDiT,
    layer_content_indices,
    split_content_tokens,
    subgrid_indices,
)


@pytest.mark.parametrize("grid", [(2, 2), (4, 4), (6, 8), (32, 32), (24, 42)])
def test_any_four_consecutive_layers_partition_the_grid(grid):
    n = grid[0] * grid[1]
    for first in range(9):
        used = torch.cat([layer_content_indices(layer, grid, split=True)
                          for layer in range(first, first + 4)])
        assert used.numel() == n                          # no token twice ...
        assert torch.equal(used.sort().values, torch.arange(n))  # ... and none missing
        # each layer sees a quarter: an H/32 x W/32 grid
        assert layer_content_indices(first, grid, split=True).numel() == n // 4


def test_subgrids_are_every_second_row_and_column():
    gh, gw = 4, 6
    grid = torch.arange(gh * gw).reshape(gh, gw)
    phases = subgrid_indices((gh, gw))
    assert torch.equal(phases[0], grid[0::2, 0::2].reshape(-1))
    assert torch.equal(phases[1], grid[0::2, 1::2].reshape(-1))
    assert torch.equal(phases[2], grid[1::2, 0::2].reshape(-1))
    assert torch.equal(phases[3], grid[1::2, 1::2].reshape(-1))


def test_split_tokens_match_the_indices():
    tokens = torch.randn(2, 6, 8, 5)
    flat = tokens.reshape(2, 48, 5)
    for part, index in zip(split_content_tokens(tokens), subgrid_indices((6, 8))):
        assert torch.equal(part, flat[:, index])


def test_odd_grid_cannot_be_split():
    with pytest.raises(ShapeError, match="even"):
        split_content_tokens(torch.zeros(1, 3, 4, 2))


def _content_rows_seen_by_each_block(model, inputs, **kwargs):
    """The content rows of every block's cross-attention context, captured on the real path."""
    contexts = []
    handles = [block.register_forward_pre_hook(lambda mod, args: contexts.append(args[3]))
               for block in model.blocks]
    run(model, inputs, **kwargs)
    for handle in handles:
        handle.remove()
    latent = inputs["latent"]
    full = model.content_embed(inputs["content"], tuple(latent.shape[3:]),
                               model.config.patch_size[1:]).flatten(1, 2)        # B n D
    seen = []
    for context in contexts:
        # match each context row to a content token (the model's rows are exact copies)
        match = (context[0][:, None, :] == full[0][None, :, :]).all(-1)         # M n
        seen.append(match.any(0).nonzero().flatten())
    return seen, full.shape[1]


def test_model_feeds_each_block_its_subgrid_above_the_threshold():
    config = tiny_config(content_split_threshold=16)
    model = randomize(ReducioDiT(config)).eval()
    inputs = make_inputs(config, grid=(2, 4, 4))          # content 16x16 -> grid 8x8 = 64 > 16
    seen, n = _content_rows_seen_by_each_block(model, inputs)
    assert n == 64 and len(seen) == config.depth == 5
    for layer, tokens in enumerate(seen):
        assert torch.equal(tokens.sort().values,
                           layer_content_indices(layer, (8, 8), split=True).sort().values)
    for first in range(config.depth - 3):
        used = torch.cat(seen[first:first + 4])
        assert torch.equal(used.sort().values, torch.arange(n))


def test_below_the_threshold_every_block_sees_the_full_set():
    config = tiny_config(content_split_threshold=64)
    model = randomize(ReducioDiT(config)).eval()
    inputs = make_inputs(config, grid=(2, 4, 4))          # 64 tokens: not above 64
    seen, n = _content_rows_seen_by_each_block(model, inputs)
    assert all(torch.equal(tokens, torch.arange(n)) for tokens in seen)
    # the 512^2-ablation switch: force the split, or force the full set above the threshold
    seen, _ = _content_rows_seen_by_each_block(model, inputs, content_split=True)
    assert all(tokens.numel() == n // 4 for tokens in seen)
    config = tiny_config(content_split_threshold=None)
    model = randomize(ReducioDiT(config)).eval()
    seen, _ = _content_rows_seen_by_each_block(model, inputs)
    assert all(tokens.numel() == n for tokens in seen)


def test_split_changes_the_prediction_but_keeps_batch_equivalence():
    config = tiny_config(content_split_threshold=16)
    model = randomize(ReducioDiT(config)).eval()
    inputs = make_inputs(config, grid=(2, 4, 4))
    split = run(model, inputs)
    full = run(model, inputs, content_split=False)
    assert not torch.allclose(split, full, atol=1e-4)
    single = run(model, {k: v[1:] for k, v in inputs.items()})
    torch.testing.assert_close(split[1:], single, rtol=0, atol=1e-5)
