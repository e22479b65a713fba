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


def test_decoder_coords_feed_position_into_every_level():
    from reducio.models.vae.decoder import CoordinateFeatures

    feats = CoordinateFeatures(2)(torch.zeros(1, 5, 3, 4, 6))
    assert feats.shape == (1, 8, 1, 4, 6)
    # channel 2 is x at the lowest frequency: sin(pi * x) over pixel centres of [-1, 1]
    x = (torch.arange(6) + 0.5) / 6 * 2 - 1
    assert torch.allclose(feats[0, 2, 0, 0], torch.sin(torch.pi * x))
    assert torch.allclose(feats[0, 0, 0, :, 0], torch.sin(torch.pi * ((torch.arange(4) + 0.5) / 4 * 2 - 1)))

    config = VAEConfig.preset("tiny").replace(frames=8, latent_channels=4, z_channels=4,
                                              mid_attention_heads=1, decoder_coords=3)
    torch.manual_seed(0)
    vae = ReducioVAE(config)
    keys = [k for k in vae.state_dict() if "coord_in" in k]
    assert len(keys) == 2 * (1 + len(config.channel_mult))  # weight + bias: after conv_in, per level
    # the coordinate map reaches the output: silencing its projections changes the decode
    latent, content = torch.randn(1, 4, 2, 2, 2), torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        out = vae.decode(latent, content).sample
        for name, param in vae.named_parameters():
            if "coord_in" in name:
                param.zero_()
        silenced = vae.decode(latent, content).sample
    assert (out - silenced).abs().max() > 1e-3
    out_release = ReducioVAE(VAEConfig.preset("tiny"))
    assert not any("coord" in k for k in out_release.state_dict())


def test_decoder_coords_must_not_be_negative():
    with pytest.raises(ConfigError, match="decoder_coords"):
        VAEConfig.preset("tiny").replace(decoder_coords=-1)


def test_content_keep_drops_the_content_frame_per_sample():
    config = VAEConfig.preset("tiny").replace(frames=8, latent_channels=4, z_channels=4,
                                              mid_attention_heads=1, content_skip=True)
    torch.manual_seed(0)
    vae = ReducioVAE(config)
    with torch.no_grad():
        for param in vae.decoder.conv_out.parameters():
            param.normal_(std=0.05)  # a trained-like decoder: the content matters beyond the skip
    video = torch.rand(2, 3, 8, 64, 64) * 2 - 1
    with torch.no_grad():
        kept = vae(video).sample
        mixed = vae(video, content_keep=torch.tensor([1.0, 0.0])).sample
    assert torch.allclose(mixed[0], kept[0], atol=1e-6)  # kept sample: unchanged
    assert not torch.allclose(mixed[1], kept[1], atol=1e-3)  # dropped: the frame is gone
    # a dropped sample decodes exactly as with all-zero content features: it sees no frame
    z_same = vae.normalize_latent(vae.encode(video).latent_dist.mode())
    with torch.no_grad():
        zeros = torch.zeros(2, 3, 64, 64)
        feats = vae.encode_content(zeros).masked(torch.zeros(2))
        blind = vae.decode(z_same, feats).sample
    assert torch.allclose(blind[1], mixed[1], atol=1e-5)


def test_encoder_residual_sees_only_the_change_from_the_content_frame():
    config = VAEConfig.preset("tiny").replace(frames=8, latent_channels=4, z_channels=4,
                                              mid_attention_heads=1, encoder_residual=True)
    torch.manual_seed(0)
    vae = ReducioVAE(config)
    still = (torch.rand(1, 3, 1, 64, 64) * 2 - 1).expand(1, 3, 8, 64, 64)
    other_still = (torch.rand(1, 3, 1, 64, 64) * 2 - 1).expand(1, 3, 8, 64, 64)
    moving = still.clone()
    moving[:, :, 0, :8, :8] = 1.0  # one frame changes
    with torch.no_grad():
        z_still = vae.encode(still).latent_dist.mode()
        z_other = vae.encode(other_still).latent_dist.mode()
        z_moving = vae.encode(moving).latent_dist.mode()
        # forward (which picks the content frame itself) encodes the same way as encode()
        assert torch.allclose(vae(moving).latent, vae.normalize_latent(z_moving), atol=1e-5)
    # every still clip is "no change": the same latent whatever the scene; motion changes it
    assert torch.allclose(z_still, z_other, atol=1e-6)
    assert not torch.allclose(z_still, z_moving, atol=1e-4)


def test_encoder_residual_needs_a_content_frame():
    with pytest.raises(ConfigError, match="encoder_residual"):
        VAEConfig.preset("tiny").replace(encoder_residual=True, content_frame="none")
