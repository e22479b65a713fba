import pytest
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL
from transformers import CLIPVisionConfig, CLIPVisionModel, CLIPVisionModelWithProjection

from reducio.conditioning import (
    CLIPSemanticEncoder,
    PatchPixelSemanticEncoder,
    PooledRGBContentEncoder,
    SDVAEContentEncoder,
)
from reducio.conditioning.image_semantic import CLIP_MEAN, CLIP_STD
from reducio.errors import ModelNotFoundError, ShapeError


def tiny_clip_config() -> CLIPVisionConfig:
    return CLIPVisionConfig(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64,
                            num_hidden_layers=2, num_attention_heads=4, projection_dim=16)


def random_image(batch=2, size=(48, 40), seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, *size, generator=g) * 2 - 1


@pytest.mark.parametrize("model_class", [CLIPVisionModel, CLIPVisionModelWithProjection])
def test_clip_tokens_are_post_layernorm_patch_tokens(model_class):
    torch.manual_seed(0)
    model = model_class(tiny_clip_config()).eval()
    tower = getattr(model, "vision_model", model)  # transformers 5 flattened CLIPVisionModel
    with torch.no_grad():  # a non-trivial final LayerNorm, so applying it or not is visible
        tower.post_layernorm.weight.normal_(1.0, 0.5)
        tower.post_layernorm.bias.normal_(0.0, 0.5)
    encoder = CLIPSemanticEncoder(model)
    image = random_image()
    tokens = encoder.encode(image)
    assert tokens.shape == (2, 16, 32) and encoder.num_tokens == 16 and encoder.dim == 32
    # the reference path written out: resize 224-equivalent bicubic AA, [-1,1] -> [0,1], mean/std
    pixels = F.interpolate(image, size=(32, 32), mode="bicubic", antialias=True)
    pixels = ((pixels + 1) / 2 - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(
        CLIP_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        hidden = tower(pixel_values=pixels).last_hidden_state
        expected = tower.post_layernorm(hidden)[:, 1:]
    torch.testing.assert_close(tokens, expected)
    assert not torch.allclose(tokens, hidden[:, 1:], atol=1e-3)  # the LayerNorm was applied


def test_clip_from_pretrained_folder_and_missing(tmp_path):
    CLIPVisionModel(tiny_clip_config()).save_pretrained(tmp_path / "clip")
    encoder = CLIPSemanticEncoder.from_pretrained(tmp_path / "clip", local_files_only=True)
    assert encoder.encode(random_image(1)).shape == (1, 16, 32)
    with pytest.raises(ModelNotFoundError, match="CLIP vision tower"):
        CLIPSemanticEncoder.from_pretrained(tmp_path / "missing", local_files_only=True)


def tiny_vae() -> AutoencoderKL:
    torch.manual_seed(0)
    return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4,
                         down_block_types=("DownEncoderBlock2D",) * 4,
                         up_block_types=("UpDecoderBlock2D",) * 4,
                         block_out_channels=(8, 8, 16, 16), layers_per_block=1,
                         norm_num_groups=4, sample_size=32).eval()


def test_sd_vae_content_latent_is_the_unscaled_h8_posterior():
    vae = tiny_vae()
    encoder = SDVAEContentEncoder(vae)
    assert encoder.channels == 4 and encoder.downsample == 8
    assert encoder.scaling_factor == pytest.approx(0.18215)
    image = random_image(2, (64, 48))
    latent = encoder.encode(image)
    assert latent.shape == (2, 4, 8, 6)
    with torch.no_grad():
        dist = vae.encode(image).latent_dist
    torch.testing.assert_close(latent, dist.mode())               # unscaled, deterministic
    sampled = encoder.encode(image, sample=True, generator=torch.Generator().manual_seed(0))
    again = encoder.encode(image, sample=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(sampled, again) and not torch.equal(sampled, latent)
    with pytest.raises(ShapeError, match="multiple of 8"):
        encoder.encode(random_image(1, (60, 48)))


def test_sd_vae_from_pretrained_keeps_only_the_encoder(tmp_path):
    vae = tiny_vae()
    vae.save_pretrained(tmp_path / "vae")
    encoder = SDVAEContentEncoder.from_pretrained(tmp_path / "vae", local_files_only=True)
    assert encoder.vae.decoder is None
    image = random_image(1, (32, 32))
    torch.testing.assert_close(encoder.encode(image), SDVAEContentEncoder(vae).encode(image))
    with pytest.raises(ModelNotFoundError, match="SD VAE"):
        SDVAEContentEncoder.from_pretrained(tmp_path / "none", local_files_only=True)


def test_pooled_rgb_content_is_the_8x8_block_mean():
    image = random_image(2, (32, 24))
    latent = PooledRGBContentEncoder().encode(image)
    assert latent.shape == (2, 3, 4, 3)
    torch.testing.assert_close(latent[1, :, 2, 1], image[1, :, 16:24, 8:16].mean(dim=(1, 2)))
    with pytest.raises(ShapeError, match=r"\(B, 3, H, W\)"):
        PooledRGBContentEncoder().encode(torch.zeros(1, 4, 32, 32))


def test_patch_pixel_tokens():
    encoder = PatchPixelSemanticEncoder()
    image = random_image(2, (64, 64))
    tokens = encoder.encode(image)
    assert tokens.shape == (2, 64, 192) and encoder.dim == 192 and encoder.num_tokens == 64
    assert torch.equal(tokens[0, 9], image[0, :, 8:16, 8:16].reshape(-1))


def test_encoders_feed_the_tiny_dit():
    """The built-in small encoders' shapes are what the tiny DiT preset expects."""
    from reducio.models.dit import DiTConfig, ReducioDiT

    config = DiTConfig.preset("tiny")
    assert config.text_dim == 384  # MiniLM's width (test_text_encoders checks the encoder side)
    image = random_image(1, (64, 64))
    semantic = PatchPixelSemanticEncoder().encode(image)
    content = PooledRGBContentEncoder().encode(image)
    assert semantic.shape[-1] == config.semantic_dim and content.shape[1] == config.content_channels
    assert PooledRGBContentEncoder.scaling_factor == config.content_scale
    model = ReducioDiT(config)
    out = model(torch.randn(1, 16, 4, 2, 2), 10, semantic=semantic, content=content,
                text=torch.randn(1, 5, config.text_dim)).sample
    assert out.shape == (1, 16, 4, 2, 2)
