import json

import pytest

from reducio.errors import ConfigError
from reducio.training.config import VAETrainConfig
from reducio.configs import apply_overrides


def test_round_trip_dict_and_json(tmp_path):
    config = apply_overrides(VAETrainConfig(), ["optim.lr=3e-4", "model.overrides.base_channels=32", "data.root=/v"])
    assert VAETrainConfig.from_dict(config.to_dict()) == config
    config.to_json(tmp_path / "c.json")
    again = VAETrainConfig.from_json(tmp_path / "c.json")
    assert again == config
    assert isinstance(again.optim.betas, tuple)  # JSON lists come back as tuples
    assert json.loads((tmp_path / "c.json").read_text())["optim"]["betas"] == [0.5, 0.9]


def test_unknown_key_names_the_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown key optim\.learning_rate.*valid keys: lr, betas"):
        VAETrainConfig.from_dict({"optim": {"learning_rate": 1e-4}})
    with pytest.raises(ConfigError, match="unknown key optimizer.*valid keys: task, model, data"):
        VAETrainConfig.from_dict({"optimizer": {}})


def test_set_coerces_to_the_field_type():
    config = apply_overrides(VAETrainConfig(), [
        "optim.lr=1e-4",            # YAML would read this as a string
        "optim.betas=0.4,0.8",
        "loss.disc_enabled=false",
        "train.max_steps=1e6",
        "optim.grad_clip=0.5",
        "model.init=none",
        "train.mixed_precision=bf16",
        "loss.lpips_weights=/w/vgg.pth",
    ])
    assert config.optim.lr == 1e-4 and isinstance(config.optim.lr, float)
    assert config.optim.betas == (0.4, 0.8)
    assert config.loss.disc_enabled is False
    assert config.train.max_steps == 1_000_000 and isinstance(config.train.max_steps, int)
    assert config.optim.grad_clip == 0.5
    assert config.model.init is None
    assert config.train.mixed_precision == "bf16"
    assert config.loss.lpips_weights == "/w/vgg.pth"


@pytest.mark.parametrize("override, message", [
    ("optim.lrate=1", r"unknown key 'optim.lrate'.*valid keys at this level: lr, betas"),
    ("train.mixed_precision=fp8", r"train.mixed_precision must be one of 'no', 'fp16', 'bf16'"),
    ("train.max_steps=ten", r"train.max_steps must be an integer"),
    ("optim.betas=0.5", r"optim.betas must have 2 items"),
    ("loss.disc_enabled=maybe", r"loss.disc_enabled must be true or false"),
    ("optim.lr", r"--set expects KEY.SUB=VALUE"),
    ("train.max_steps=0", r"train.max_steps must be >= 1"),
])
def test_bad_set_is_a_config_error(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(VAETrainConfig(), [override])
