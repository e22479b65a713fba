"""The diffusers side of the models: config system, strict loading, older folders, slicing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from diffusers import ModelMixin
from safetensors.torch import load_file, save_file

from reducio.errors import CheckpointError, ConfigError, ModelNotFoundError
from reducio.models.dit import DiTConfig, ReducioDiT
from reducio.models.vae import ReducioVAE, VAEConfig

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy"
WEIGHTS = "diffusion_pytorch_model.safetensors"


def tiny_vae(seed: int = 0) -> ReducioVAE:
    torch.manual_seed(seed)
    return ReducioVAE(VAEConfig.preset("tiny").replace(channel_mult=(1, 1, 1, 1),
                                                       content_channel_mult=(1, 1, 1, 1))).eval()


def tiny_dit(seed: int = 0) -> ReducioDiT:
    torch.manual_seed(seed)
    dit = ReducioDiT(DiTConfig.preset("tiny").replace(hidden_size=48, depth=2, num_heads=2)).eval()
    with torch.no_grad():  # the zero-initialised output layer would hide every other weight
        for p in dit.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return dit


def dit_inputs(seed: int = 1) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"latent": torch.randn(2, 16, 4, 2, 2, generator=g), "timestep": torch.tensor([10.0, 500.0]),
            "text": torch.randn(2, 5, 384, generator=g),
            "semantic": torch.randn(2, 64, 192, generator=g),
            "content": torch.randn(2, 3, 8, 8, generator=g)}


def run_dit(dit: ReducioDiT, inputs: dict) -> torch.Tensor:
    args = dict(inputs)
    with torch.no_grad():
        return dit(args.pop("latent"), args.pop("timestep"), **args).sample


def clip(batch: int = 2, seed: int = 2) -> torch.Tensor:
    return torch.rand(batch, 3, 16, 64, 64, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# ----------------------------------------------------------------------------- config system
def test_three_ways_to_build_give_the_same_config():
    arch = VAEConfig.preset("tiny")
    a, b = ReducioVAE(arch), ReducioVAE.from_config("tiny")
    c = ReducioVAE(**arch.to_dict())
    assert a.arch == b.arch == c.arch == arch
    assert dict(a.config) == dict(b.config) == dict(c.config)
    assert isinstance(a, ModelMixin)
    assert (a.spatial_compression_ratio, a.temporal_compression_ratio, a.latent_channels) == (32, 4, 16)
    assert a.num_frames == 16 and a.content_frame_index(16) == 7


def test_unknown_config_key_names_it_and_the_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown key bogus in VAEConfig; valid keys: frames, in_channels"):
        ReducioVAE.from_config({**VAEConfig().to_dict(), "bogus": 1})
    with pytest.raises(ConfigError, match="unknown DiT preset 'nope'"):
        ReducioDiT.from_config("nope")


# ----------------------------------------------------------------------------- save / load
@pytest.mark.parametrize("dtype", [None, torch.float16])
def test_dit_round_trip_gives_identical_outputs(tmp_path, dtype):
    dit = tiny_dit()
    dit.save_pretrained(tmp_path / "dit")
    assert (tmp_path / "dit" / WEIGHTS).is_file()
    loaded = ReducioDiT.from_pretrained(tmp_path / "dit", torch_dtype=dtype)
    assert loaded.arch == dit.arch and not loaded.training
    if dtype is None:
        assert torch.equal(run_dit(loaded, dit_inputs()), run_dit(dit, dit_inputs()))
    else:
        assert loaded.dtype == dtype
        assert torch.equal(run_dit(loaded.float(), dit_inputs()), run_dit(dit.half().float(), dit_inputs()))


@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
def test_vae_round_trip_gives_identical_outputs(tmp_path, dtype):
    vae = tiny_vae()
    vae.save_pretrained(tmp_path / "vae")
    loaded = ReducioVAE.from_pretrained(tmp_path / "vae", torch_dtype=dtype)
    reference = vae if dtype is None else vae.to(dtype)
    assert loaded.dtype == reference.dtype
    with torch.no_grad():
        assert torch.equal(loaded(clip(1).to(reference.dtype)).sample,
                           reference(clip(1).to(reference.dtype)).sample)


def test_unknown_key_in_config_json_raises(tmp_path):
    tiny_dit().save_pretrained(tmp_path / "dit")
    config = json.loads((tmp_path / "dit" / "config.json").read_text())
    (tmp_path / "dit" / "config.json").write_text(json.dumps({**config, "depht": 3}))
    with pytest.raises(ConfigError, match=r"unknown key depht in DiTConfig; valid keys: in_channels, "):
        ReducioDiT.from_pretrained(tmp_path / "dit")


def test_missing_and_unexpected_weights_raise_naming_them(tmp_path):
    tiny_dit().save_pretrained(tmp_path / "dit")
    weights = load_file(tmp_path / "dit" / WEIGHTS)
    weights.pop("final.linear.bias")
    weights["extra.weight"] = torch.zeros(2)
    save_file(weights, tmp_path / "dit" / WEIGHTS)
    with pytest.raises(CheckpointError, match=r"missing keys: \['final.linear.bias'\].*unexpected keys: "
                                              r"\['extra.weight'\]"):
        ReducioDiT.from_pretrained(tmp_path / "dit")


def test_mis_shaped_weight_raises(tmp_path):
    tiny_vae().save_pretrained(tmp_path / "vae")
    weights = load_file(tmp_path / "vae" / WEIGHTS)
    weights["quant_conv.bias"] = torch.zeros(3)
    save_file(weights, tmp_path / "vae" / WEIGHTS)
    with pytest.raises(CheckpointError, match="quant_conv.bias"):
        ReducioVAE.from_pretrained(tmp_path / "vae")


def test_builtin_name_and_missing_paths():
    assert ReducioVAE.from_pretrained("tiny").arch.patch_size == 4
    with pytest.raises(ModelNotFoundError, match=r"no such file or folder: './absent'"):
        ReducioVAE.from_pretrained("./absent")
    with pytest.raises(ModelNotFoundError, match=r"no such file or folder: 'absent.safetensors'"):
        ReducioDiT.from_pretrained("absent.safetensors")


def test_single_file_round_trip(tmp_path):
    dit = tiny_dit()
    dit.save_single_file(tmp_path / "dit.safetensors")
    loaded = ReducioDiT.from_pretrained(tmp_path / "dit.safetensors")
    assert torch.equal(run_dit(loaded, dit_inputs()), run_dit(dit, dit_inputs()))
    with pytest.raises(CheckpointError, match="holds a ReducioDiT, not a ReducioVAE"):
        ReducioVAE.from_single_file(tmp_path / "dit.safetensors")


# ----------------------------------------------------------------------------- older folders
def test_folders_written_by_the_older_format_still_load():
    reference = load_file(LEGACY / "reference_outputs.safetensors")
    vae = ReducioVAE.from_pretrained(LEGACY / "vae")
    with torch.no_grad():
        assert torch.equal(vae(reference["video"]).sample, reference["vae_recon"])
    dit = ReducioDiT.from_pretrained(LEGACY / "dit")
    assert dit.arch.hidden_size == 48 and dit.arch.prediction_type == "flow"


def test_convert_upgrades_an_older_folder(tmp_path):
    from reducio.models.conversion import upgrade_model_folder

    report = upgrade_model_folder(LEGACY / "dit", tmp_path / "dit")
    assert report.model == "ReducioDiT" and (tmp_path / "dit" / WEIGHTS).is_file()
    old, new = ReducioDiT.from_pretrained(LEGACY / "dit"), ReducioDiT.from_pretrained(tmp_path / "dit")
    assert torch.equal(run_dit(old, dit_inputs()), run_dit(new, dit_inputs()))


def test_reducio_convert_upgrades_an_older_vae_folder(tmp_path, capsys):
    from reducio.cli.main import main

    assert main(["convert", str(LEGACY / "vae"), "-o", str(tmp_path / "vae")]) == 0
    assert (tmp_path / "vae" / WEIGHTS).is_file() and "ReducioVAE" in capsys.readouterr().out
    old, new = ReducioVAE.from_pretrained(LEGACY / "vae"), ReducioVAE.from_pretrained(tmp_path / "vae")
    assert all(torch.equal(a, b) for a, b in zip(old.state_dict().values(), new.state_dict().values()))


# ----------------------------------------------------------------------------- runtime switches
def test_slicing_gives_the_outputs_of_one_sample_at_a_time():
    """Sliced = each sample run alone, bit for bit; = the batched run up to the last float bits
    (CPU convolution kernels pick their algorithm by batch size)."""
    vae, video = tiny_vae(), clip(3)
    content = video[:, :, vae.content_frame_index(16)]
    with torch.no_grad():
        dist = vae.encode(video).latent_dist
        latent = vae.normalize_latent(dist.mode())
        whole = vae.decode(latent, content).sample
        alone = torch.cat([vae.decode(latent[b:b + 1], content[b:b + 1]).sample for b in range(3)])
        alone_mean = torch.cat([vae.encode(video[b:b + 1]).latent_dist.mean for b in range(3)])
        vae.enable_slicing()
        sliced_dist = vae.encode(video).latent_dist
        sliced = vae.decode(latent, content).sample
        sliced_features = vae.decode(latent, vae.encode_content(content)).sample
        vae.disable_slicing()
    assert torch.equal(sliced_dist.mean, alone_mean) and torch.equal(sliced, alone)
    torch.testing.assert_close(sliced_dist.mean, dist.mean, rtol=0, atol=1e-5)
    torch.testing.assert_close(sliced, whole, rtol=0, atol=1e-5)
    torch.testing.assert_close(sliced_features, whole, rtol=0, atol=1e-5)


def test_encode_and_decode_follow_diffusers_return_conventions():
    vae, video = tiny_vae(), clip(1)
    with torch.no_grad():
        (dist,) = vae.encode(video, return_dict=False)
        latent = vae.normalize_latent(dist.mode())
        (sample,) = vae.decode(latent, video[:, :, 7], return_dict=False)
        out = vae(video)
    assert latent.shape == (1, 16, 4, 2, 2) and sample.shape == video.shape
    assert torch.equal(out.sample, sample) and torch.equal(out.latent, latent)
    assert dist.kl().shape == (1,)  # summed over C, t, h, w: the 5-D distribution stays ours


def test_diffusers_gradient_checkpointing_switch_keeps_outputs_and_gradients():
    dit, inputs = tiny_dit().train(), dit_inputs()

    def loss_and_grads():
        dit.zero_grad()
        args = dict(inputs)
        loss = dit(args.pop("latent"), args.pop("timestep"), **args).sample.square().mean()
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in dit.parameters() if p.grad is not None]

    plain = loss_and_grads()
    dit.enable_gradient_checkpointing()
    assert dit.is_gradient_checkpointing
    checkpointed = loss_and_grads()
    assert torch.equal(plain[0], checkpointed[0])
    for a, b in zip(plain[1], checkpointed[1]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_a_dtype_cast_does_not_warn_about_an_empty_list_of_float32_modules():
    """diffusers' ModelMixin.to warns about "modules that should be kept in float32: []" on every
    dtype cast; reducio's models keep none in float32, and cast without that warning."""
    import logging

    from reducio.pipelines.stage1 import ImageReranker

    messages: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    diffusers_logger = logging.getLogger("diffusers.models.modeling_utils")
    diffusers_logger.addHandler(handler)
    try:
        vae = ReducioVAE(VAEConfig.preset("tiny")).to(torch.bfloat16)
        dit = ReducioDiT(DiTConfig.preset("tiny")).to(dtype=torch.float16)
        reranker = ImageReranker().to("cpu", torch.bfloat16)
    finally:
        diffusers_logger.removeHandler(handler)
    assert (vae.dtype, dit.dtype, reranker.dtype) == (torch.bfloat16, torch.float16, torch.bfloat16)
    assert not [m for m in messages if "float32" in m], messages
