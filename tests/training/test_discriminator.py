import torch

from reducio.training.discriminator import NLayerDiscriminator3D


def test_output_shape_and_release_key_names():
    torch.manual_seed(0)
    disc = NLayerDiscriminator3D()
    logits = disc(torch.randn(2, 3, 16, 64, 64))
    assert logits.shape == (2, 1, 2, 6, 6)
    names = list(disc.state_dict())
    # The release's loss.discriminator.main.* layout: conv, lrelu, (conv, bn, lrelu) x 3, conv.
    assert names[:2] == ["main.0.weight", "main.0.bias"]
    assert "main.2.weight" in names and "main.2.bias" not in names  # normalised convs have no bias
    assert "main.3.running_mean" in names and "main.11.bias" in names
    assert disc.main[5].kernel_size == (3, 4, 4) and disc.main[8].kernel_size == (1, 4, 4)
    by_hand = (3 * 64 * 64 + 64) + (64 * 128 * 64 + 2 * 128) + (128 * 256 * 48 + 2 * 256) \
        + (256 * 512 * 16 + 2 * 512) + (512 * 16 + 1)  # kernels 4^3, 4^3, 3*4*4, 1*4*4, 1*4*4
    assert sum(p.numel() for p in disc.parameters()) == by_hand


def test_init_follows_weights_init():
    torch.manual_seed(0)
    disc = NLayerDiscriminator3D()
    conv = disc.main[8].weight
    assert abs(conv.mean().item()) < 1e-3 and abs(conv.std().item() - 0.02) < 1e-3
    bn = disc.main[9]
    assert torch.all(bn.bias == 0) and abs(bn.weight.mean().item() - 1.0) < 5e-3
