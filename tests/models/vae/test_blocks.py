import pytest
import torch
import torch.nn.functional as F

from reducio.models.vae import blocks


def test_chunked_nearest_upsample_is_bit_identical(monkeypatch):
    x = torch.randn(2, 10, 3, 5, 7)                                        # B C T H W
    for scale in ((1.0, 2.0, 2.0), (2.0, 2.0, 2.0)):
        reference = F.interpolate(x, scale_factor=scale, mode="nearest")
        calls = []
        real = F.interpolate
        monkeypatch.setattr(blocks.F, "interpolate", lambda *a, **k: calls.append(a[0].shape[1]) or real(*a, **k))
        monkeypatch.setattr(blocks, "MAX_KERNEL_ELEMENTS", reference.numel() // 4)   # forces 4+ chunks
        out = blocks.nearest_upsample(x, scale)
        monkeypatch.undo()
        assert torch.equal(out, reference)
        assert len(calls) >= 4 and sum(calls) == 10


def test_upsample_block_gives_the_same_output_chunked(monkeypatch):
    torch.manual_seed(0)
    up = blocks.Upsample(6, temporal=True).eval()
    x = torch.randn(1, 6, 2, 4, 4)
    with torch.no_grad():
        whole = up(x)
        monkeypatch.setattr(blocks, "MAX_KERNEL_ELEMENTS", 100)
        chunked = up(x)
    assert torch.equal(whole, chunked)


@pytest.mark.parametrize("kernel,padding", [(3, 1), (1, 0), ((3, 1, 1), (1, 0, 0)), (3, 0)])
def test_conv3d_in_time_chunks_matches_one_call(kernel, padding):
    """Chunks of output frames with their halo (zero-padded only at the clip's ends) give the
    same result as one convolution, for every chunk size down to one frame."""
    torch.manual_seed(0)
    conv = blocks.Conv3d(4, 6, kernel_size=kernel, padding=padding)
    x = torch.randn(1, 4, 9, 5, 6)                                          # B C T H W
    reference = F.conv3d(x, conv.weight, conv.bias, conv.stride, conv.padding)
    frame = x.numel() // 9
    for limit in (1, 3 * frame, 5 * frame, 10**9):
        out = blocks.conv3d_in_time_chunks(conv, x, conv.weight, conv.bias, limit)
        assert out.shape == reference.shape
        torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-5)


def test_too_large_for_kernels_counts_input_and_output(monkeypatch):
    conv = blocks.Conv3d(4, 64, kernel_size=3, padding=1)
    x = torch.empty(1, 4, 8, 4, 4)
    monkeypatch.setattr(blocks, "MAX_KERNEL_ELEMENTS", x.numel() * 4)
    assert blocks._too_large_for_kernels(conv, x)               # the output is 16x the input
    monkeypatch.setattr(blocks, "MAX_KERNEL_ELEMENTS", x.numel() * 16)
    assert not blocks._too_large_for_kernels(conv, x)
    monkeypatch.setattr(blocks, "MAX_KERNEL_ELEMENTS", x.numel() * 16 - 1)
    assert blocks._too_large_for_kernels(conv, x)
