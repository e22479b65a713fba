"""Official key clean-up, ft4/ft2 detection and architecture inference from shapes."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from reducio.loading.official import clean_official_state_dict
from reducio.models.vae.official_config import (config_from_official_yaml, detect_official_preset,
                                                infer_official_config)
from reducio.errors import CheckpointError
from reducio.models.vae.config import VAEConfig

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _meta_state_dict(variant: str) -> dict[str, torch.Tensor]:
    """The released state dict's names and shapes as meta tensors (no memory for 437M params)."""
    listing = json.loads((FIXTURES / f"reducio-vae-{variant}-state-dict.json").read_text())
    return {key: torch.empty(shape, device="meta") for key, shape in listing["keys"].items()}


def _tiny() -> dict[str, torch.Tensor]:
    return load_file(FIXTURES / "official_tiny" / "weights.safetensors")


def test_clean_strips_module_prefix_and_drops_loss(caplog):
    weights = {"encoder_3d.conv_in.weight": torch.zeros(1), "decoder.conv_out.bias": torch.ones(1)}
    raw = {f"module.{k}": v for k, v in weights.items()}
    raw |= {"module.loss.logvar": torch.zeros(()), "loss.discriminator.main.0.weight": torch.zeros(2)}
    with caplog.at_level(logging.DEBUG, logger="reducio.loading.official"):
        cleaned = clean_official_state_dict({"state_dict": raw, "epoch": 2})
    assert cleaned.keys() == weights.keys()
    assert all(cleaned[k] is raw[f"module.{k}"] for k in weights)
    assert "dropped 2 training-only loss.* keys" in caplog.text
    assert clean_official_state_dict(weights) == weights  # bare dict, nothing to strip


def test_clean_rejects_key_present_with_and_without_prefix():
    with pytest.raises(CheckpointError, match="decoder.conv_in.bias"):
        clean_official_state_dict({"decoder.conv_in.bias": torch.zeros(1),
                                   "module.decoder.conv_in.bias": torch.zeros(1)})


@pytest.mark.parametrize("variant", ["ft4", "ft2"])
def test_detects_released_variants_from_shapes(variant):
    state_dict = _meta_state_dict(variant)
    assert detect_official_preset(state_dict) == variant
    assert infer_official_config(state_dict) == VAEConfig.preset(variant)


def test_ft4_and_ft2_differ_only_in_the_documented_keys():
    ft4, ft2 = _meta_state_dict("ft4"), _meta_state_dict("ft2")
    differing = {k for k in ft4 if ft4[k].shape != ft2[k].shape}
    assert differing == {"encoder_3d.down.3.downsample.conv.weight", "decoder.mid.fuse.0.pos_embed"}
    # Swapping just the downsampler kernel is a contradiction (pos_embed says ft4): no preset fits.
    kernel = "encoder_3d.down.3.downsample.conv.weight"
    mixed = {**ft4, kernel: ft2[kernel]}
    with pytest.raises(CheckpointError, match="config="):
        detect_official_preset(mixed)


def test_other_architectures_are_not_a_preset_but_are_inferred():
    weights = _tiny()
    with pytest.raises(CheckpointError, match=r"not one of the released.*encoder_channels=32.*config="):
        detect_official_preset(weights)
    inferred = infer_official_config(weights)
    reference = config_from_official_yaml(FIXTURES / "official_tiny" / "config.yaml")
    # Everything stored in the weights matches the YAML; the attention window is not stored.
    assert inferred == reference.replace(window_size=inferred.window_size)
    assert inferred.window_size != reference.window_size


def test_wider_ft4_is_inferred_with_its_widths():
    # Double every width of the released ft4 listing: a different but official-layout model.
    state_dict = {k: torch.empty([2 * s if s in (128, 256, 512) else s for s in v.shape], device="meta")
                  for k, v in _meta_state_dict("ft4").items()}
    config = infer_official_config(state_dict)
    assert config.encoder_channels == 256 and config.content_channels == 256
    assert config.channel_mult == (1, 2, 2, 4, 4, 4) and config.log2_time_downsample == 2
    assert config.frames == 16


def test_not_a_reducio_state_dict():
    with pytest.raises(CheckpointError, match="no encoder_3d"):
        detect_official_preset({"model.diffusion.weight": torch.zeros(1)})
    partial = _meta_state_dict("ft4")
    del partial["post_quant_conv.weight"]
    with pytest.raises(CheckpointError, match="post_quant_conv.weight"):
        detect_official_preset(partial)
