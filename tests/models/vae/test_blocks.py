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
