"""Tiling and activation checkpointing are runtime state of ReducioVAE, not VAEConfig fields.

Configs written before (our older config.json files, the release's YAML) hold them as keys: they
still load, the values reach the model, and a notice names each key and the call replacing it.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import torch

from reducio.errors import ConfigError
from reducio.models.vae import ReducioVAE, VAEConfig

ASSET = Path(__file__).resolve().parents[3] / "src" / "reducio" / "assets" / "vae-tiny"
# The shipped vae-tiny config.json as it was written before the runtime keys left VAEConfig.
OLD_CONFIG = Path(__file__).resolve().parents[2] / "fixtures" / "old_configs" / "vae-tiny-config.json"
RUNTIME_KEYS = ("use_tiling", "tile_sample_min_size", "tile_overlap_factor", "tile_width_too",
                "gradient_checkpointing")


def _old_folder(tmp_path: Path, **changes) -> Path:
    folder = tmp_path / "old-vae"
    folder.mkdir()
    old = json.loads(OLD_CONFIG.read_text())
    (folder / "config.json").write_text(json.dumps({**old, **changes}))
    shutil.copy(ASSET / "diffusion_pytorch_model.safetensors", folder)
    return folder


def test_the_old_shipped_config_holds_the_runtime_keys():
    old = json.loads(OLD_CONFIG.read_text())
    assert set(RUNTIME_KEYS) <= set(old)
    assert not set(RUNTIME_KEYS) & set(json.loads((ASSET / "config.json").read_text()))


def test_old_config_json_loads_and_applies_its_runtime_keys_with_a_notice(tmp_path, caplog):
    folder = _old_folder(tmp_path, use_tiling=True, tile_sample_min_size=128, tile_width_too=True,
                         gradient_checkpointing=True)
    with caplog.at_level(logging.WARNING):
        vae = ReducioVAE.from_pretrained(folder)
    assert vae.arch == ReducioVAE.from_pretrained(ASSET).arch
    assert (vae.use_tiling, vae.tile_sample_min_size, vae.tile_overlap_factor, vae.tile_width_too) == \
        (True, 128, 0.25, True)
    assert vae.is_gradient_checkpointing
    for key in RUNTIME_KEYS:
        assert key in caplog.text
    assert "ReducioVAE.enable_tiling(tile_sample_min_size=...)" in caplog.text
    assert "ReducioVAE.enable_gradient_checkpointing()" in caplog.text
    # saved again, the config holds the architecture only
    vae.save_pretrained(tmp_path / "new")
    assert not set(RUNTIME_KEYS) & set(json.loads((tmp_path / "new" / "config.json").read_text()))


def test_unknown_keys_in_an_old_config_still_fail_naming_the_valid_ones(tmp_path):
    folder = _old_folder(tmp_path, tile_size=64)
    with pytest.raises(ConfigError, match="unknown key tile_size in VAEConfig; valid keys: frames"):
        ReducioVAE.from_pretrained(folder)


def test_a_config_alone_drops_runtime_keys_with_a_notice(caplog):
    old = json.loads(OLD_CONFIG.read_text())
    with caplog.at_level(logging.WARNING):
        config = VAEConfig.from_dict(old)
    assert config == ReducioVAE.from_pretrained(ASSET).arch
    assert "ignored here" in caplog.text and "use_tiling" in caplog.text


def test_keyword_runtime_settings_reach_the_model(caplog):
    with caplog.at_level(logging.WARNING):
        vae = ReducioVAE(**VAEConfig.preset("tiny").to_dict(), use_tiling=True, tile_overlap_factor=0.5)
    assert vae.use_tiling and vae.tile_overlap_factor == 0.5
    assert "tile_overlap_factor=0.5" in caplog.text


def test_release_1024_yaml_and_preset_tile_as_before(tmp_path, caplog):
    yaml_text = (Path(__file__).resolve().parents[2] / "fixtures" / "official_tiny" / "config.yaml").read_text()
    assert "use_tiling: true" in yaml_text
    (tmp_path / "release.yaml").write_text(yaml_text)
    with caplog.at_level(logging.WARNING):
        vae = ReducioVAE.from_config(str(tmp_path / "release.yaml"))
    assert (vae.use_tiling, vae.tile_sample_min_size, vae.tile_overlap_factor) == (True, 64, 0.25)
    assert "ReducioVAE.enable_tiling() / disable_tiling()" in caplog.text
    with torch.device("meta"):
        assert ReducioVAE.from_config("ft4-1024").use_tiling
        assert ReducioVAE("ft2-1024").use_tiling
        assert not ReducioVAE.from_config("ft4").use_tiling


def test_tiling_methods_validate_and_keep_values():
    vae = ReducioVAE(VAEConfig.preset("tiny"))
    assert not vae.use_tiling and vae.tile_sample_min_size == 256
    vae.enable_tiling(tile_sample_min_size=128, tile_overlap_factor=0.0)
    assert (vae.use_tiling, vae.tile_sample_min_size, vae.tile_overlap_factor) == (True, 128, 0.0)
    vae.disable_tiling()
    assert not vae.use_tiling and vae.tile_sample_min_size == 128
    with pytest.raises(ConfigError, match="multiple of the spatial factor 32, got 100"):
        vae.enable_tiling(tile_sample_min_size=100)
    with pytest.raises(ConfigError, match=r"tile_overlap_factor must be in \[0, 1\), got 1.5"):
        vae.enable_tiling(tile_overlap_factor=1.5)
    with pytest.raises(ConfigError, match="use_tiling must be true or false"):
        vae.apply_runtime_settings({"use_tiling": "maybe"})
