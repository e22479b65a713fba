import pytest
import torch
import torch.nn.functional as F

from reducio.errors import ConfigError
from reducio.models.dit import ReducioDiT, patchify, unpatchify
from reducio.models.dit.patch_resize import patch_factors, with_patch_size

from dit_helpers import make_inputs, randomize, tiny_config


def big_patch_dit(patch=(2, 4, 4)) -> ReducioDiT:
    return randomize(ReducioDiT(tiny_config(patch_size=list(patch))), seed=3).eval()


@pytest.mark.parametrize("new", [(1, 2, 2), (2, 1, 1), (1, 4, 2)])
def test_small_patch_token_equals_big_patch_token_of_the_upsampled_input(new):
    old = (2, 4, 4)
    dit = big_patch_dit(old)
    small = with_patch_size(dit, new)
    assert tuple(small.arch.patch_size) == new
    k = patch_factors(old, new)
    x = torch.randn(2, dit.arch.in_channels, 2, 4, 4)            # B C t h w on the small grid
    upsampled = x.repeat_interleave(k[0], 2).repeat_interleave(k[1], 3).repeat_interleave(k[2], 4)
    ours = small.patch_embed(patchify(x, new))                              # B N D
    theirs = dit.patch_embed(patchify(upsampled, old))                      # B N D, same N
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_final_layer_is_the_big_patch_prediction_box_filtered():
    old, new = (2, 4, 4), (1, 2, 2)
    dit = big_patch_dit(old)
    small = with_patch_size(dit, new)
    tokens, t_emb = torch.randn(2, 6, dit.arch.hidden_size), torch.randn(2, dit.arch.hidden_size)
    grid = (2, 3, 1)                                                # tokens in (t, h, w)
    big = unpatchify(dit.final(tokens, t_emb), old, grid)           # B C 4 12 4
    expected = F.avg_pool3d(big, kernel_size=(2, 2, 2))             # B C 2 6 2
    ours = unpatchify(small.final(tokens, t_emb), new, grid)        # B C 2 6 2
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)


def test_every_other_weight_is_copied_and_the_model_runs():
    dit = big_patch_dit((1, 2, 2))
    small = with_patch_size(dit, (1, 1, 1))
    old, new = dit.state_dict(), small.state_dict()
    assert old.keys() == new.keys()
    for name in old:
        if not name.startswith(("patch_embed.", "final.linear.")):
            assert torch.equal(old[name], new[name]), name
    inputs = make_inputs(small.arch, grid=(4, 2, 2))
    out = small(inputs.pop("latent"), inputs.pop("timestep"), return_dict=False, **inputs)[0]
    assert out.shape == (2, small.arch.out_channels, 4, 2, 2) and torch.isfinite(out).all()


def test_same_patch_size_is_a_copy():
    dit = big_patch_dit((1, 2, 2))
    same = with_patch_size(dit, [1, 2, 2])
    assert same is not dit
    for (name, a), b in zip(dit.state_dict().items(), same.state_dict().values()):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("new", [(1, 3, 3), (1, 8, 8), (0, 2, 2), (1, 2)])
def test_patch_sizes_that_do_not_divide_are_refused(new):
    with pytest.raises(ConfigError, match="divide the old one"):
        patch_factors((1, 4, 4), new)


def test_keeps_dtype_and_mode():
    dit = big_patch_dit((1, 2, 2)).to(torch.bfloat16).train()
    small = with_patch_size(dit, (1, 1, 1))
    assert small.dtype == torch.bfloat16 and small.training
    assert torch.equal(small.blocks[0].attn.to_q.weight, dit.blocks[0].attn.to_q.weight)
