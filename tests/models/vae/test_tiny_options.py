"""The `tiny` preset's two departures from the release: `VAEConfig.patch_size` (space-to-depth
input/output patch) and `VAEConfig.content_skip` (the decoder predicts the change from the
content frame). Both default off, so ft4/ft2 and the official parity fixture are untouched."""

from __future__ import annotations

import pytest
import torch

from reducio.errors import ConfigError
from reducio.models.vae import ReducioVAE, VAEConfig
from reducio.models.vae.blocks import depth_to_space, space_to_depth


def test_space_to_depth_matches_pixel_unshuffle_and_inverts():
    image = torch.randn(2, 3, 8, 12)
    assert torch.equal(space_to_depth(image, 2), torch.pixel_unshuffle(image, 2))
    video = torch.randn(2, 3, 5, 8, 12)  # B C T H W
    packed = space_to_depth(video, 4)
    assert packed.shape == (2, 48, 5, 2, 3)
    # each frame packs like pixel_unshuffle of that frame
    assert torch.equal(packed[:, :, 1], torch.pixel_unshuffle(video[:, :, 1], 4))
    assert torch.equal(depth_to_space(packed, 4), video)
    assert space_to_depth(video, 1) is video


def test_default_is_the_release_and_old_configs_load():
    assert VAEConfig().patch_size == 1 and VAEConfig.preset("ft4").space_downsample == 32
    data = VAEConfig.preset("ft4").to_dict()
    data.pop("patch_size")  # a config.json written before the field existed
    assert VAEConfig.from_dict(data) == VAEConfig.preset("ft4")


def test_tiny_keeps_the_release_latent_shape():
    tiny = VAEConfig.preset("tiny")
    assert tiny.patch_size == 4 and tiny.space_downsample == 32 and tiny.time_downsample == 4
    assert not tiny.content_skip and not VAEConfig.preset("ft4").content_skip
    assert ReducioVAE(tiny).latent_shape(16, 64, 64) == (16, 4, 2, 2)


@pytest.mark.parametrize("bad", [3, 6, 0])
def test_patch_size_must_be_a_power_of_two(bad):
    with pytest.raises(ConfigError, match="patch_size"):
        VAEConfig.preset("tiny").replace(patch_size=bad)


def test_patched_model_round_trip_shapes_and_gradients():
    config = VAEConfig.preset("tiny").replace(frames=8, latent_channels=4, z_channels=4,
                                              mid_attention_heads=1, patch_size=2)
    assert config.space_downsample == 16
    torch.manual_seed(0)
    vae = ReducioVAE(config)
    video = torch.rand(1, 3, 8, 32, 32) * 2 - 1
    out = vae(video)
    assert out.latent.shape == (1, 4, 2, 2, 2) and out.sample.shape == video.shape
    out.sample.square().mean().backward()
    assert vae.encoder_3d.conv_in.weight.shape[1] == 12 and vae.encoder_3d.conv_in.weight.grad is not None
    assert vae.decoder.conv_out.weight.shape[0] == 12
    # decode from the image and from precomputed content features agree
    z = vae.normalize_latent(vae.encode(video).latent_dist.mode())
    content = video[:, :, vae.content_frame_index(8)]
    with torch.no_grad():
        a = vae.decode(z, content).sample
        b = vae.decode(z, vae.encode_content(content)).sample
    assert torch.allclose(a, b)


def test_content_skip_starts_at_the_content_copy_and_learns():
    config = VAEConfig.preset("tiny").replace(frames=8, latent_channels=4, z_channels=4,
                                              mid_attention_heads=1, content_skip=True)
    torch.manual_seed(0)
    vae = ReducioVAE(config)
    video = torch.rand(2, 3, 8, 64, 64) * 2 - 1
    content = video[:, :, vae.content_frame_index(8)]
    out = vae(video)
    # conv_out starts at zero: the reconstruction is the content frame repeated
    assert torch.equal(out.sample, content.unsqueeze(2).expand_as(video))
    out.sample.sub(video).square().mean().backward()
    assert vae.decoder.conv_out.weight.grad.abs().sum() > 0
    # features from encode_content carry the frame; features without it are refused
    z = vae.normalize_latent(vae.encode(video).latent_dist.mode())
    feats = vae.encode_content(content)
    with torch.no_grad():
        assert torch.equal(vae.decode(z, feats).sample, vae.decode(z, content).sample)
    from dataclasses import replace

    from reducio.errors import VideoInputError
    with pytest.raises(VideoInputError, match="content_skip"):
        vae.decode(z, replace(feats, image=None))


def test_content_skip_needs_a_content_frame():
    with pytest.raises(ConfigError, match="content_skip"):
        VAEConfig.preset("tiny").replace(content_frame="none", content_skip=True)
