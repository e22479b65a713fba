"""VAEConfig: presets, validation, JSON round trip, official YAML import."""

from __future__ import annotations

import json
import logging

import pytest

from reducio.errors import ConfigError
from reducio.models.vae import VAEConfig
from reducio.models.vae.official_config import config_from_official_yaml

PRESETS = ["ft4", "ft2", "ft4-1024", "ft2-1024", "tiny"]

# The model section of the release's reducio_kl_ft4_fs32_z16_attn23.yaml (training-only sections
# shortened): what a user downloads next to the checkpoint.
RELEASE_FT4_YAML = """
Frames: &Frames 16
Resolution: &Resolution 256
model:
  base_learning_rate: 2e-5
  target: ldm.models.reducio_vae.ReducioVAE
  params:
    monitor: "train/rec_loss"
    embed_dim: 16
    image_key: "jpg"
    automatic_optimization: False
    attn_precision: fp32
    enable_2d: True
    freeze_2d: False
    freeze_3d: False
    use_tiling: {use_tiling}
    tile_overlap_factor: 0.25
    tile_sample_min_size: 256
    scheduler_config:
      target: ldm.lr_scheduler.LambdaLinearScheduler
    lossconfig:
      target: ldm.modules.losses.contperceptual.LPIPSWithDiscriminator
      params: {{disc_start: 10001, kl_weight: 1e-6}}
    ddconfig_2d:
      ch: 128
      z_channels: 4
      out_ch: 3
      resolution: *Resolution
      in_channels: 3
      ch_mult: [ 1,2,4,4 ]
      num_res_blocks: 2
      attn_resolutions: []
      dropout: 0.0
      out_z: False
      use_checkpoint: True
      fp32_attention: True
    ddconfig:
      ch: 128
      ch_in: 128
      f_t: {f_t}
      out_ch: 3
      z_channels: 16
      resolution: *Resolution
      in_channels: 3
      temp_res: *Frames
      ch_mult: [ 1,2,2,4,4,4]
      ch_fuse: [-1,-1,2,3,-1,-1]
      fuse_type: 'attn'
      num_res_blocks: 2
      attn_resolutions: []
      use_3d_conv: True
      upsample_first: True
      fuse_mid: True
      use_checkpoint: True
      pos_embed_mode: 't'
      fp32_attention: True
      window_size: 128
"""


def _release_yaml(tmp_path, use_tiling=False, f_t=2, extra=""):
    path = tmp_path / "release.yaml"
    text = RELEASE_FT4_YAML.format(use_tiling=use_tiling, f_t=f_t)
    path.write_text(text.replace("      window_size: 128\n", "      window_size: 128\n" + extra))
    return path


@pytest.mark.parametrize("name", PRESETS)
def test_json_round_trip(tmp_path, name):
    config = VAEConfig.preset(name)
    config.to_json(tmp_path / "config.json")
    loaded = VAEConfig.from_json(tmp_path / "config.json")
    assert loaded == config
    assert isinstance(loaded.channel_mult, tuple)
    assert json.loads((tmp_path / "config.json").read_text())["channel_mult"] == list(config.channel_mult)


def test_defaults_are_ft4_and_factors():
    ft4, ft2 = VAEConfig.preset("ft4"), VAEConfig.preset("ft2")
    assert VAEConfig() == ft4
    assert (ft4.log2_time_downsample, ft4.time_downsample) == (2, 4)
    assert (ft2.log2_time_downsample, ft2.time_downsample) == (1, 2)
    assert ft4.space_downsample == 32 and ft4.latent_frames == 4 and ft2.latent_frames == 8
    assert VAEConfig.preset("ft4-1024") == ft4  # same architecture; the model built by name tiles
    tiny = VAEConfig.preset("tiny")
    assert (tiny.frames, tiny.latent_channels, tiny.encoder_channels) == (16, 16, 32)


def test_unknown_key_names_it_and_lists_valid_keys():
    data = VAEConfig().to_dict() | {"latent_dim": 8}
    with pytest.raises(ConfigError, match="latent_dim") as err:
        VAEConfig.from_dict(data)
    assert "latent_channels" in str(err.value)


def test_unknown_preset_lists_valid_names():
    with pytest.raises(ConfigError, match="ft4-1024"):
        VAEConfig.preset("ft8")


@pytest.mark.parametrize("changes, message", [
    ({"encoder_channels": 48}, "GroupNorm"),
    ({"content_channels": 48}, "GroupNorm"),
    ({"log2_time_downsample": 6}, "log2_time_downsample"),
    ({"frames": 10}, "multiple of the time downsample"),
    ({"fuse_levels": (-1, 2, 3)}, "one entry per decoder level"),
    ({"fuse_levels": (-1, -1, 7, 3, -1, -1)}, "content feature index"),
    ({"content_frame": "first"}, "content_frame"),
    ({"frames": "16"}, "frames='16'"),
    ({"fuse_mid": 1}, "fuse_mid=1"),
])
def test_invalid_values_raise(changes, message):
    with pytest.raises(ConfigError, match=message):
        VAEConfig(**changes)


def test_from_official_yaml_tiny_fixture(tiny_dir):
    config = config_from_official_yaml(tiny_dir / "config.yaml")
    assert config == VAEConfig(
        frames=8, latent_channels=8, z_channels=8, log2_time_downsample=2,
        encoder_channels=32, decoder_channels=32, channel_mult=(1, 1, 2, 2, 2, 2),
        num_res_blocks=1, content_channels=32, content_channel_mult=(1, 1, 2, 2),
        content_num_res_blocks=1, fuse_levels=(-1, -1, 2, 3, -1, -1), fuse_mid=True,
        window_size=8, content_window_size=256)


@pytest.mark.parametrize("use_tiling, f_t, preset", [
    (False, 2, "ft4"), (True, 2, "ft4-1024"), (False, 1, "ft2"), (True, 1, "ft2-1024")])
def test_release_yaml_equals_presets(tmp_path, use_tiling, f_t, preset):
    assert config_from_official_yaml(_release_yaml(tmp_path, use_tiling, f_t)) == \
        VAEConfig.preset(preset)


@pytest.mark.parametrize("extra, message", [
    ("      fuse_type_extra: 1\n      pos_embed_mode_: t\n", None),
    ("      upsample_mode: unshuffle\n", "upsample_mode"),
    ("      is_tanh_gating: True\n", "is_tanh_gating"),
    ("      f_s: 4\n", "f_s"),
    ("      fuse_mid_type: linear\n", "fuse_mid_type"),
    ("      dropout: 0.1\n", "dropout"),
])
def test_release_yaml_unsupported_and_unknown_keys(tmp_path, caplog, extra, message):
    path = _release_yaml(tmp_path, extra=extra)
    if message is None:
        with caplog.at_level(logging.WARNING):
            assert config_from_official_yaml(path) == VAEConfig.preset("ft4")
        assert "ddconfig.fuse_type_extra" in caplog.text
    else:
        with pytest.raises(ConfigError, match=message):
            config_from_official_yaml(path)


def test_release_yaml_fuse_type_other_than_attn(tmp_path):
    path = _release_yaml(tmp_path)
    path.write_text(path.read_text().replace("fuse_type: 'attn'", "fuse_type: 'add'"))
    with pytest.raises(ConfigError, match="fuse_type"):
        config_from_official_yaml(path)


def test_not_a_reducio_yaml(tmp_path):
    path = tmp_path / "other.yaml"
    path.write_text("model:\n  params:\n    embed_dim: 4\n")
    with pytest.raises(ConfigError, match="ddconfig"):
        config_from_official_yaml(path)
