"""ReducioVAE behaviour beyond parity: shapes, long clips, content conventions, errors, training."""

from __future__ import annotations

import pytest
import torch

from reducio.errors import ShapeError, VideoInputError
from reducio.models.vae import ContentFeatures, DiagonalGaussian, ReducioVAE, VAEConfig


def _clip(frames: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, frames, size, size, generator=g) * 2 - 1


# ---------------------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("name, size, expected", [
    ("ft4", 256, (16, 4, 8, 8)), ("ft2", 256, (16, 8, 8, 8)),
    ("ft4-1024", 1024, (16, 4, 32, 32)), ("ft2-1024", 1024, (16, 8, 32, 32)),
    ("tiny", 64, (16, 4, 2, 2))])
def test_latent_shape(name, size, expected):
    with torch.device("meta"):
        vae = ReducioVAE(VAEConfig.preset(name))
    assert vae.latent_shape(16, size, size) == expected
    assert vae.latent_shape(48, size, 2 * size)[1:] == (expected[1] * 3, expected[2], 2 * expected[3])


@pytest.mark.parametrize("name, t", [("ft4", 4), ("ft2", 8)])
def test_released_sizes_run_on_meta(name, t):
    """Full-size encode/decode of a 16x256x256 clip (shapes only, on the meta device)."""
    with torch.device("meta"):
        vae = ReducioVAE(VAEConfig.preset(name)).eval()
        video = torch.empty(1, 3, 16, 256, 256)
    with torch.no_grad():
        dist = vae.encode(video).latent_dist
        feats = vae.encode_content(video[:, :, vae.content_frame_index(16)])
        assert tuple(dist.mean.shape) == (1, 16, t, 8, 8)
        assert [tuple(m.shape[1:]) for m in feats.maps] == [
            (128, 256, 256), (256, 128, 128), (512, 64, 64), (512, 32, 32), (512, 32, 32)]
        assert tuple(vae.decode(dist.mean, feats).sample.shape) == (1, 3, 16, 256, 256)


def test_content_frame_index_is_lower_middle():
    vae = ReducioVAE(VAEConfig.preset("tiny"))
    assert vae.content_frame_index(16) == 7 and vae.content_frame_index(8) == 3


# ---------------------------------------------------------------------------------------- long clips
def test_long_clip_is_concatenation_of_windows(make_tiny_vae, tiny_io):
    vae = make_tiny_vae()  # frames = 8
    first = tiny_io["x"][..., :32, :]  # 32x64 keeps the level-2 cross-attention windowed
    second = first.flip(2)
    clip = torch.cat([first, second], dim=2)  # 16 frames = 2 windows
    with torch.no_grad():
        out = vae(clip)
        parts = [vae(first), vae(second)]
        dist = vae.encode(clip).latent_dist
    assert out.sample.shape == clip.shape and out.latent.shape[2] == 4
    assert torch.allclose(out.sample, torch.cat([p.sample for p in parts], 2), atol=1e-5)
    assert torch.allclose(out.latent, torch.cat([p.latent for p in parts], 2), atol=1e-6)
    assert torch.allclose(dist.mean, torch.cat([p.latent_dist.mean for p in parts], 2), atol=1e-6)
    # latent normalisation is per window
    assert torch.allclose(vae.normalize_latent(dist.mode()), out.latent, atol=1e-5)
    assert not torch.allclose(torch.nn.functional.layer_norm(dist.mean, dist.mean.shape[1:]),
                              out.latent, atol=1e-3)
    # per-window content: a (B, 3, n, H, W) tensor, a list of images or of ContentFeatures
    frames = vae.content_frames(clip)
    assert torch.equal(frames[:, :, 0], first[:, :, 3]) and torch.equal(frames[:, :, 1], second[:, :, 3])
    with torch.no_grad():
        ref = vae.decode(out.latent, frames).sample
        as_list = vae.decode(out.latent, [frames[:, :, 0], frames[:, :, 1]]).sample
        as_feats = vae.decode(out.latent, [vae.encode_content(f) for f in frames.unbind(2)]).sample
    assert torch.allclose(ref, out.sample, atol=1e-5)
    assert torch.equal(ref, as_list) and torch.equal(ref, as_feats)


def test_decode_accepts_image_or_features(make_tiny_vae, tiny_io):
    vae = make_tiny_vae()
    with torch.no_grad():
        a = vae.decode(tiny_io["latent_ln"], tiny_io["content_frame"]).sample
        b = vae.decode(tiny_io["latent_ln"], vae.encode_content(tiny_io["content_frame"])).sample
    assert torch.equal(a, b)


# ---------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("shape, match", [
    ((1, 3, 12, 64, 64), r"12 frames.*trim to 8 or pad to 16"),
    ((1, 3, 0, 64, 64), "0 frames"),
    ((1, 3, 8, 48, 64), r"multiples of 32.*48x64"),
    ((1, 3, 8, 64, 16), r"multiples of 32"),
    ((1, 4, 8, 64, 64), "3 channels"),
    ((3, 8, 64, 64), r"\(B, 3, T, H, W\)"),
])
def test_bad_video_raises_shape_error(make_tiny_vae, shape, match):
    vae = make_tiny_vae()
    with pytest.raises(ShapeError, match=match):
        vae.encode(torch.zeros(shape))
    with pytest.raises(ShapeError, match=match):
        vae(torch.zeros(shape))


def test_bad_latent_and_content_raise(make_tiny_vae, tiny_io):
    vae = make_tiny_vae()
    latent, image = tiny_io["latent_ln"], tiny_io["content_frame"]
    with pytest.raises(ShapeError, match="latent must be"):
        vae.decode(latent[:, :4], image)
    with pytest.raises(ShapeError, match="multiple of 2"):
        vae.decode(latent[:, :, :1], image)
    with pytest.raises(ShapeError, match="2 window"):
        vae.decode(torch.cat([latent, latent], 2), image)
    with pytest.raises(ShapeError, match="decodes to 64x64"):
        vae.decode(latent, torch.zeros(1, 3, 128, 64))
    with pytest.raises(ShapeError, match="content image"):
        vae.encode_content(torch.zeros(1, 3, 8, 64, 64)[:, 0])
    with pytest.raises(VideoInputError, match="None"):
        vae.decode(latent, None)


def test_content_tiling_must_match_decode(make_tiny_vae, tiny_io):
    vae = make_tiny_vae(use_tiling=True)
    feats = vae.encode_content(tiny_io["tiled.content_frame"])
    assert feats.tiled
    vae.disable_tiling()
    with pytest.raises(ShapeError, match="tiling on"):
        vae.decode(tiny_io["tiled.latent_ln"], feats)
    with pytest.raises(ValueError, match="grid"):
        feats.maps


# ---------------------------------------------------------------------------------------- tiling switches
def test_enable_tiling_and_width_rule(make_tiny_vae, tiny_io):
    vae = make_tiny_vae(use_tiling=False)
    wide = tiny_io["wide.content_frame"]  # 64 x 128
    vae.enable_tiling()
    assert not vae.encode_content(wide).tiled  # release rule: the width is not checked
    vae.enable_tiling(tile_width_too=True)
    feats = vae.encode_content(wide)
    assert feats.tiled and len(feats.grid) == 1 and len(feats.grid[0]) == 2
    vae.enable_tiling(tile_sample_min_size=128, tile_overlap_factor=0.0)
    assert not vae.encode_content(wide).tiled  # limit int(128 * 1.0) = 128
    vae.disable_tiling()
    assert not vae.encode_content(tiny_io["tiled.content_frame"]).tiled
    with pytest.raises(Exception, match="tile_sample_min_size"):
        vae.enable_tiling(tile_sample_min_size=100)


# ---------------------------------------------------------------------------------------- posterior
def test_diagonal_gaussian():
    g = torch.Generator().manual_seed(0)
    moments = torch.randn(2, 8, 2, 3, 3, generator=g)
    moments[:, 4:, 0, 0, 0] = 50.0  # logvar clamped to 20
    dist = DiagonalGaussian(moments)
    assert dist.logvar.max().item() == 20.0
    assert torch.allclose(dist.std, torch.exp(0.5 * dist.logvar))
    assert torch.allclose(dist.var, dist.std ** 2, rtol=1e-5)
    assert torch.equal(dist.mode(), moments[:, :4])
    s1 = dist.sample(torch.Generator().manual_seed(3))
    s2 = dist.sample(torch.Generator().manual_seed(3))
    eps = torch.randn(dist.mean.shape, generator=torch.Generator().manual_seed(3))
    assert torch.equal(s1, s2) and torch.allclose(s1, dist.mean + dist.std * eps)
    kl = 0.5 * (dist.mean ** 2 + dist.var - 1 - dist.logvar).sum(dim=(1, 2, 3, 4))
    assert torch.allclose(dist.kl(), kl)
    assert torch.equal(DiagonalGaussian(torch.zeros(1, 8, 1, 1, 1)).kl(), torch.zeros(1))


def test_sample_posterior_uses_generator(make_tiny_vae, tiny_io):
    vae = make_tiny_vae()
    x = tiny_io["x"][..., :32, :32]
    with torch.no_grad():
        a = vae(x, sample_posterior=True, generator=torch.Generator().manual_seed(1))
        b = vae(x, sample_posterior=True, generator=torch.Generator().manual_seed(1))
        mode = vae(x)
    assert torch.equal(a.sample, b.sample)
    assert not torch.allclose(a.latent, mode.latent)


# ---------------------------------------------------------------------------------------- content ablations
def test_random_content_frame_only_in_training(tiny_config):
    vae = ReducioVAE(tiny_config.replace(content_frame="random"))
    clip = _clip(16)
    picked = set()
    vae.train()
    for seed in range(12):
        frames = vae.content_frames(clip, torch.Generator().manual_seed(seed))
        for w in range(2):
            window = clip[:, :, 8 * w:8 * (w + 1)]
            idx = [t for t in range(8) if torch.equal(window[:, :, t], frames[:, :, w])]
            assert len(idx) == 1
            picked.add(idx[0])
    assert len(picked) > 2
    vae.eval()
    assert torch.equal(vae.content_frames(clip)[:, :, 1], clip[:, :, 11])


def test_no_content_model(tiny_config):
    vae = ReducioVAE(tiny_config.replace(content_frame="none")).eval()
    assert not hasattr(vae, "encoder_2d")
    clip = _clip(8)
    with torch.no_grad():
        out = vae(clip)
        again = vae.decode(out.latent, None).sample
    assert out.sample.shape == clip.shape and torch.allclose(out.sample, again, atol=1e-6)
    with pytest.raises(VideoInputError, match="content_frame='none'"):
        vae.decode(out.latent, clip[:, :, 3])
    with pytest.raises(VideoInputError, match="no content encoder"):
        vae.encode_content(clip[:, :, 3])


# ---------------------------------------------------------------------------------------- training
def test_gradient_checkpointing_same_gradients(make_tiny_vae):
    clip = _clip(8)

    def grads(checkpointing: bool):
        vae = make_tiny_vae().train()
        if checkpointing:
            vae.enable_gradient_checkpointing()
        calls = []
        vae.decoder.up[0].block_1[0].norm1.register_forward_hook(lambda *a: calls.append(1))
        vae(clip).sample.square().mean().backward()
        return {n: p.grad for n, p in vae.named_parameters() if p.grad is not None}, len(calls)

    plain, plain_calls = grads(False)
    ckpt, ckpt_calls = grads(True)
    assert (plain_calls, ckpt_calls) == (1, 2)  # recomputed in backward
    assert plain.keys() == ckpt.keys() and len(plain) > 300
    for name in plain:
        assert torch.allclose(plain[name], ckpt[name], atol=1e-6, rtol=1e-4), name
    # the 2D encoder's mid.block_2 / norm_out are loaded but unused (release behaviour)
    assert not any(n.startswith(("encoder_2d.mid.block_2", "encoder_2d.norm_out")) for n in plain)
    assert not any("pos_embed" in n for n in plain)


def test_content_features_to_dtype(make_tiny_vae, tiny_io):
    feats = make_tiny_vae().encode_content(tiny_io["content_frame"])
    assert isinstance(feats, ContentFeatures) and feats.batch_size == 1
    assert all(m.dtype == torch.float64 for m in feats.to(torch.float64).maps)


# ---------------------------------------------------------------------------------------- save / load
def test_save_pretrained_round_trip(tmp_path, tiny_config):
    torch.manual_seed(0)
    vae = ReducioVAE(tiny_config.replace(window_size=16)).eval()
    folder = tmp_path / "vae"
    vae.save_pretrained(folder)
    assert VAEConfig.from_json(folder / "config.json") == vae.arch
    loaded = ReducioVAE.from_pretrained(folder)
    assert loaded.arch == vae.arch and not loaded.training
    clip = _clip(8)
    with torch.no_grad():
        assert torch.equal(loaded(clip).sample, vae(clip).sample)
    assert all(not p.requires_grad for n, p in loaded.named_parameters() if "pos_embed" in n)
