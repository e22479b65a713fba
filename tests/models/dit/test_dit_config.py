import json

import pytest

from reducio.errors import ConfigError
from reducio.models.dit import DIT_PRESETS, DiTConfig


@pytest.mark.parametrize("name", sorted(DIT_PRESETS))
def test_json_round_trip(tmp_path, name):
    config = DiTConfig.preset(name)
    path = tmp_path / "config.json"
    config.to_json(path)
    loaded = DiTConfig.from_json(path)
    assert loaded == config
    assert isinstance(loaded.patch_size, tuple)
    assert json.loads(path.read_text())["patch_size"] == list(config.patch_size)


def test_defaults_are_the_1_2b_preset():
    assert DiTConfig() == DiTConfig.preset("reducio-dit-1.2b")


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError, match="unknown key hiden_size in DiTConfig; valid keys: .*hidden_size"):
        DiTConfig.from_dict({"hiden_size": 3})
    with pytest.raises(ConfigError, match="valid keys"):
        DiTConfig().replace(nope=1)


def test_unknown_preset_lists_names():
    with pytest.raises(ConfigError, match="valid presets.*tiny"):
        DiTConfig.preset("huge")


@pytest.mark.parametrize("changes,message", [
    (dict(hidden_size=100, num_heads=3), "divisible by num_heads"),
    (dict(hidden_size=66, num_heads=6), "multiple of 4"),
    (dict(attention="2d"), "attention"),
    (dict(patch_size=(1, 0, 1)), "patch_size"),
    (dict(depth="4"), "depth='4' is not int"),
    (dict(text_dim=0), "text_dim must be >= 1"),
    (dict(prediction_type="v"), "prediction_type"),
    (dict(patch_size=(1, 1)), "patch_size"),
])
def test_invalid_values_raise_config_error(changes, message):
    with pytest.raises(ConfigError, match=message):
        DiTConfig(**changes)


def test_optional_branches_can_be_removed():
    config = DiTConfig.preset("tiny").replace(semantic_dim=None, content_channels=None)
    assert not config.has_image
    assert DiTConfig.from_dict(config.to_dict()) == config
