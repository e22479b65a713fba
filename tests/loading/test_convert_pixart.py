"""PixArt-alpha -> Reducio-DiT initialisation, checked against diffusers' PixArt implementation."""

import pytest
import torch
from diffusers import PixArtTransformer2DModel
from safetensors.torch import save_file

from reducio.loading.pixart import convert_pixart_state_dict, init_from_pixart
from reducio.errors import CheckpointError
from reducio.models.dit import DiTConfig, ReducioDiT

D, HEADS, LAYERS, CAPTION = 32, 2, 2, 12


def tiny_pixart(seed: int = 0) -> PixArtTransformer2DModel:
    torch.manual_seed(seed)
    model = PixArtTransformer2DModel(
        sample_size=8, patch_size=2, in_channels=4, out_channels=8, num_layers=LAYERS,
        num_attention_heads=HEADS, attention_head_dim=D // HEADS, cross_attention_dim=D,
        caption_channels=CAPTION, norm_type="ada_norm_single", norm_elementwise_affine=False,
        norm_eps=1e-6, use_additional_conditions=False)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.1)
    return model.eval()


def pixart_like_config(**changes) -> DiTConfig:
    # PixArt geometry: 4-channel latent, 2x2 patches, single frame; positions as PixArt's
    # (base size = sample_size / patch = 4 tokens); text only.
    base = dict(in_channels=4, patch_size=(1, 2, 2), hidden_size=D, depth=LAYERS, num_heads=HEADS,
                text_dim=CAPTION, semantic_dim=None, content_channels=None, pos_embed_base_size=4)
    return DiTConfig(**{**base, **changes})


def test_converted_model_reproduces_pixart_on_a_single_frame():
    pixart = tiny_pixart()
    model = ReducioDiT(pixart_like_config()).eval()
    report = init_from_pixart(model, pixart.state_dict())
    assert "proj_out.weight" in report.skipped
    # PixArt's output layer predicts 8 channels (eps, variance) ordered (p, q, c); copy the eps
    # rows into our (c, p, q) order by hand to compare the whole network.
    w, b = pixart.proj_out.weight, pixart.proj_out.bias
    order = [(p * 2 + q) * 8 + c for c in range(4) for p in range(2) for q in range(2)]
    with torch.no_grad():
        model.final.linear.weight.copy_(w[order])
        model.final.linear.bias.copy_(b[order])

    g = torch.Generator().manual_seed(1)
    latent = torch.randn(2, 4, 8, 8, generator=g)
    text = torch.randn(2, 6, CAPTION, generator=g)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]], dtype=torch.bool)
    t = torch.tensor([10, 700])
    with torch.no_grad():
        ref = pixart(latent, encoder_hidden_states=text, timestep=t,
                     added_cond_kwargs={"resolution": None, "aspect_ratio": None},
                     encoder_attention_mask=mask.long()).sample[:, :4]
        ours = model(latent[:, :, None], t, text=text, text_mask=mask).sample[:, :, 0]
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-5)


def test_report_for_the_reducio_latent():
    pixart = tiny_pixart()
    config = pixart_like_config(in_channels=16, patch_size=(1, 1, 1), depth=LAYERS + 1,
                                semantic_dim=20, content_channels=4, attention="2d+1d")
    model = ReducioDiT(config)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = init_from_pixart(model, pixart.state_dict())
    after = model.state_dict()
    # every PixArt block tensor has a home
    block_keys = [k for k in pixart.state_dict() if k.startswith("transformer_blocks.")]
    assert all(k in report.mapped for k in block_keys)
    assert report.mapped["transformer_blocks.1.attn1.to_out.0.weight"] == "blocks.1.attn.to_out.weight"
    assert report.mapped["adaln_single.linear.weight"] == "time_modulation.weight"
    assert report.mapped["scale_shift_table"] == "final.scale_shift_table"
    for pixart_key, ours in report.mapped.items():
        assert torch.equal(after[ours], pixart.state_dict()[pixart_key])
    # 4 vs 16 channels: the patch embedding (weight and bias) keeps its init
    assert {"pos_embed.proj.weight", "pos_embed.proj.bias"} <= set(report.skipped)
    assert "latent channels" in report.skipped["pos_embed.proj.weight"]
    for ours in ("patch_embed.weight", "patch_embed.bias", "null_text", "null_image",
                 "semantic_proj.linear_1.weight", "blocks.2.attn.to_q.weight",
                 "blocks.0.temporal_attn.to_out.weight", "final.linear.weight"):
        assert ours in report.kept_init
        assert torch.equal(after[ours], before[ours])
    assert "mapped" in report.summary()


def test_the_converted_2d_plus_1d_model_starts_as_the_image_model():
    """Zero-initialised temporal attention: a PixArt-initialised 2D+1D DiT gives each frame the
    same prediction as the 3D-attention DiT would give a single frame."""
    pixart = tiny_pixart()
    image = ReducioDiT(pixart_like_config()).eval()
    video = ReducioDiT(pixart_like_config(attention="2d+1d")).eval()
    init_from_pixart(image, pixart.state_dict())
    init_from_pixart(video, pixart.state_dict())
    torch.nn.init.normal_(image.final.linear.weight, std=0.1)
    video.final.linear.weight.data.copy_(image.final.linear.weight)
    frames = torch.randn(1, 4, 3, 8, 8)
    text = torch.randn(1, 5, CAPTION)
    with torch.no_grad():
        out = video(frames, 300, text=text).sample
        # frame 0 has no temporal offset in the position embedding: identical to the image model
        ref = image(frames[:, :, :1], 300, text=text).sample
    torch.testing.assert_close(out[:, :, :1], ref, rtol=1e-5, atol=1e-6)


def test_reads_a_diffusers_folder(tmp_path):
    pixart = tiny_pixart()
    pixart.save_pretrained(tmp_path / "pipe" / "transformer")
    model = ReducioDiT(pixart_like_config())
    report = init_from_pixart(model, tmp_path / "pipe")
    assert report.mapped
    file = tmp_path / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in pixart.state_dict().items()}, str(file))
    assert init_from_pixart(ReducioDiT(pixart_like_config()), file).mapped == report.mapped


def test_width_mismatch_and_foreign_checkpoints_raise():
    pixart = tiny_pixart().state_dict()
    with pytest.raises(CheckpointError, match="width 32 and the DiT 64.*reducio-dit-pixart-xl"):
        convert_pixart_state_dict(pixart, ReducioDiT(pixart_like_config(hidden_size=64)))
    original = {"x_embedder.proj.weight": torch.zeros(1), "t_block.1.weight": torch.zeros(1)}
    with pytest.raises(CheckpointError, match="original PixArt-alpha checkpoint"):
        convert_pixart_state_dict(original, ReducioDiT(pixart_like_config()))
    with pytest.raises(CheckpointError, match="not a diffusers PixArtTransformer2DModel"):
        convert_pixart_state_dict({"foo": torch.zeros(1)}, ReducioDiT(pixart_like_config()))
