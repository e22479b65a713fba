"""Module names and shapes equal the release's state dict (no renaming needed to load it)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from reducio.models.vae import ReducioVAE, VAEConfig
from reducio.models.vae.fusion import sinusoid_table


@pytest.fixture(scope="module", params=["ft4", "ft2"])
def released(request, fixtures_dir):
    """(meta-device model, reference JSON read off the official model) per released variant."""
    reference = json.loads((fixtures_dir / f"reducio-vae-{request.param}-state-dict.json").read_text())
    with torch.device("meta"):
        vae = ReducioVAE(VAEConfig.preset(request.param))
    return vae, reference


def test_keys_and_shapes_equal_release(released):
    vae, reference = released
    ours = {name: list(t.shape) for name, t in vae.state_dict().items()}
    assert len(ours) == reference["num_keys"]
    assert list(ours) == list(reference["keys"])  # same names, same (official) order
    assert ours == reference["keys"]
    assert not list(vae.buffers()) and reference["buffers"] == []


def test_parameter_counts_equal_release(released):
    vae, reference = released
    assert sum(p.numel() for p in vae.parameters()) == reference["total_params"]
    per_prefix = {prefix: sum(p.numel() for n, p in vae.named_parameters()
                              if n.startswith(prefix + "."))
                  for prefix in reference["params_per_prefix"]}
    assert per_prefix == reference["params_per_prefix"]


def test_frozen_pos_embed_parameters(released):
    vae, reference = released
    frozen = [n for n, p in vae.named_parameters() if not p.requires_grad]
    assert frozen == reference["frozen_params_requires_grad_false"]


def test_1024_presets_have_the_same_weights(fixtures_dir):
    reference = json.loads((fixtures_dir / "reducio-vae-ft4-state-dict.json").read_text())
    with torch.device("meta"):
        vae = ReducioVAE(VAEConfig.preset("ft4-1024"))
    assert {n: list(t.shape) for n, t in vae.state_dict().items()} == reference["keys"]


def test_pos_embed_equals_release_tables(tiny_config, tiny_dir):
    """Our float64 sinusoid tables round to exactly the float32 values the release stored."""
    stored = {k: v for k, v in load_file(tiny_dir / "weights.safetensors").items()
              if k.endswith("pos_embed")}
    assert len(stored) == 3
    ours = ReducioVAE(tiny_config).state_dict()
    for name, table in stored.items():
        assert table.dtype == torch.float32
        assert torch.equal(ours[name], table), name


def test_sinusoid_is_interleaved():
    table = sinusoid_table(5, 8)
    for pos in range(5):
        for j in range(8):
            angle = pos / 10000 ** (2 * (j // 2) / 8)
            expected = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert table[pos, j].item() == pytest.approx(expected, abs=1e-12)


def test_tiny_preset_builds_and_is_small():
    vae = ReducioVAE(VAEConfig.preset("tiny"))
    assert 4e6 < sum(p.numel() for p in vae.parameters()) < 7e6


def test_no_content_ablation_has_no_content_weights():
    with torch.device("meta"):
        vae = ReducioVAE(VAEConfig.preset("ft4").replace(content_frame="none"))
    names = list(vae.state_dict())
    assert not any(n.startswith("encoder_2d.") for n in names)
    assert not any(".fuse." in n for n in names)
