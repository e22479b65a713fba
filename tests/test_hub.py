"""reducio.hub on a small module: save/load round trips, resolution order and error messages."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from reducio import hub
from reducio.errors import CheckpointError, ConfigError, ModelNotFoundError


@dataclass(frozen=True, kw_only=True)
class TinyConfig:
    width: int = 8
    tied: bool = False

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TinyConfig:
        valid = {f.name for f in dataclasses.fields(cls)}
        if set(data) - valid:
            raise ConfigError(f"unknown keys {sorted(set(data) - valid)}; valid: {sorted(valid)}")
        return cls(**data)

    @classmethod
    def preset(cls, name: str) -> TinyConfig:
        presets = {"small": cls(width=4), "wide": cls(width=16)}
        if name not in presets:
            raise ConfigError(f"unknown preset {name!r}; valid: {sorted(presets)}")
        return presets[name]


class TinyNet(hub.PretrainedMixin, nn.Module):
    config_class = TinyConfig

    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Linear(3, config.width, bias=False)
        self.norm = nn.LayerNorm(config.width)
        self.head = nn.Linear(config.width, 3, bias=False)
        if config.tied:
            self.head.weight = nn.Parameter(self.embed.weight.T.contiguous())
            self.out = nn.Linear(config.width, 3, bias=False)
            self.out.weight = self.head.weight  # a real tie: one Parameter, two names

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.norm(self.embed(x))))


def _net(config: TinyConfig | None = None, seed: int = 0) -> TinyNet:
    torch.manual_seed(seed)
    net = TinyNet(config or TinyConfig())
    with torch.no_grad():  # non-trivial norm parameters, so a forgotten tensor shows in outputs
        net.norm.weight.normal_()
        net.norm.bias.normal_()
    return net.eval()


X = torch.linspace(-1, 1, 12).reshape(4, 3)


def test_folder_round_trip_gives_identical_outputs(tmp_path):
    net = _net()
    net.save_pretrained(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["config.json", "model.safetensors"]
    assert json.loads((tmp_path / "model" / "config.json").read_text()) == net.config.to_dict()
    loaded = TinyNet.from_pretrained(tmp_path / "model")
    assert loaded.config == net.config and not loaded.training
    assert torch.equal(loaded(X), net(X))
    (tmp_path / "model" / "config.json").unlink()  # the weights file carries the config too
    assert torch.equal(TinyNet.from_pretrained(tmp_path / "model")(X), net(X))


def test_single_file_round_trip_is_self_describing(tmp_path):
    net = _net(TinyConfig(width=16))
    path = net.save_single_file(tmp_path / "net.safetensors")
    loaded = TinyNet.from_pretrained(path)
    assert loaded.config.width == 16
    assert torch.equal(loaded(X), net(X))
    with pytest.raises(ConfigError, match=r"\.safetensors"):
        net.save_single_file(tmp_path / "net.bin")


def test_tied_weights_survive_and_stay_tied(tmp_path):
    net = _net(TinyConfig(tied=True))
    net.save_pretrained(tmp_path / "tied")
    loaded = TinyNet.from_pretrained(tmp_path / "tied")
    assert loaded.out.weight is loaded.head.weight
    assert torch.equal(loaded(X), net(X))


class TableNet(TinyNet):
    """Keeps a table computed in __init__ as a plain attribute (not a buffer, not saved)."""

    def __init__(self, config: TinyConfig) -> None:
        super().__init__(config)
        self.table = torch.linspace(0, 1, config.width)
        self.register_buffer("scratch", torch.ones(config.width), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x) * self.table * self.scratch)


def test_modules_with_unsaved_tensors_are_built_for_real(tmp_path):
    net = TableNet(TinyConfig()).eval()
    net.save_pretrained(tmp_path / "table")
    loaded = TableNet.from_pretrained(tmp_path / "table")
    assert not loaded.table.is_meta and not loaded.scratch.is_meta
    assert torch.equal(loaded(X), net(X))
    assert next(hub.instantiate_for_loading(TinyNet, TinyConfig()).parameters()).is_meta


def test_pickle_serialization_folder(tmp_path):
    net = _net()
    hub.save_pretrained(net, tmp_path / "pt", safe_serialization=False)
    assert (tmp_path / "pt" / "model.pt").is_file()
    assert torch.equal(TinyNet.from_pretrained(tmp_path / "pt")(X), net(X))


def test_bare_state_dict_needs_config(tmp_path):
    net = _net(TinyConfig(width=4))
    save_file(net.state_dict(), str(tmp_path / "bare.safetensors"))
    with pytest.raises(ConfigError, match="config="):
        TinyNet.from_pretrained(tmp_path / "bare.safetensors")
    for config in ("small", {"width": 4}, TinyConfig(width=4)):
        assert torch.equal(TinyNet.from_pretrained(tmp_path / "bare.safetensors", config=config)(X), net(X))
    torch.save({"state_dict": net.state_dict(), "step": 10}, tmp_path / "train.ckpt")
    assert torch.equal(TinyNet.from_pretrained(tmp_path / "train.ckpt", config="small")(X), net(X))


def test_wrong_config_reports_shapes(tmp_path):
    _net(TinyConfig(width=4)).save_pretrained(tmp_path / "m")
    with pytest.raises(CheckpointError, match=r"embed.weight: \[4, 3\] vs \[16, 3\]"):
        TinyNet.from_pretrained(tmp_path / "m", config="wide")
    with pytest.raises(ConfigError, match="valid"):
        TinyNet.from_pretrained(tmp_path / "m", config="huge")


def test_dtype_and_device(tmp_path):
    _net().save_pretrained(tmp_path / "m")
    loaded = TinyNet.from_pretrained(tmp_path / "m", torch_dtype="bf16", device="cpu")
    assert {p.dtype for p in loaded.parameters()} == {torch.bfloat16}
    with pytest.raises(ConfigError, match="torch_dtype"):
        TinyNet.from_pretrained(tmp_path / "m", torch_dtype="float8")


def test_file_of_another_class_is_refused(tmp_path):
    class OtherNet(TinyNet):
        pass

    OtherNet(TinyConfig()).save_single_file(tmp_path / "other.safetensors")
    with pytest.raises(CheckpointError, match="holds a OtherNet, not a TinyNet"):
        TinyNet.from_pretrained(tmp_path / "other.safetensors")


def test_builtin_names_come_from_the_assets_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(hub, "assets_root", lambda: tmp_path / "assets")
    with pytest.raises(ModelNotFoundError, match=r"built-in weights 'small' are not installed.*tiny-small"):
        TinyNet.from_pretrained("small")
    net = _net(TinyConfig(width=4))
    net.save_pretrained(tmp_path / "assets" / "tiny-small")
    assert torch.equal(TinyNet.from_pretrained("small")(X), net(X))
    assert hub.builtin_names("tiny") == ["small"]


def test_missing_path_names_it_and_the_accepted_forms(tmp_path):
    missing = tmp_path / "nowhere" / "model.safetensors"
    with pytest.raises(ModelNotFoundError) as error:
        TinyNet.from_pretrained(missing)
    message = str(error.value)
    assert str(missing) in message and "config.json" in message and "hub id" in message
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="holds no model"):
        TinyNet.from_pretrained(tmp_path / "empty")


def test_hub_id_offline_says_what_to_download(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelNotFoundError) as error:
        TinyNet.from_pretrained("someone/tiny-net", cache_dir=tmp_path / "cache")
    message = str(error.value)
    assert "hf download someone/tiny-net config.json --local-dir" in message
    assert "HF_HUB_OFFLINE" in message


def test_hub_id_resolves_through_the_cache(tmp_path, monkeypatch):
    """A snapshot already in the HF cache loads offline (the layout hf_hub_download reads)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "cache"
    repo = cache / "models--someone--tiny-net"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    net = _net()
    net.save_pretrained(repo / "snapshots" / commit)
    loaded = TinyNet.from_pretrained("someone/tiny-net", cache_dir=cache)
    assert torch.equal(loaded(X), net(X))


def test_config_json_path_and_yaml_without_support(tmp_path):
    _net(TinyConfig(width=4)).save_pretrained(tmp_path / "m")
    assert hub.resolve_config(TinyNet, tmp_path / "m" / "config.json") == TinyConfig(width=4)
    assert hub.resolve_config(TinyNet, tmp_path / "m") == TinyConfig(width=4)
    (tmp_path / "c.yaml").write_text("model: {}\n")
    with pytest.raises(ConfigError, match="no official YAML"):
        hub.resolve_config(TinyNet, tmp_path / "c.yaml")


def test_module_without_config_cannot_be_saved(tmp_path):
    with pytest.raises(ConfigError, match="no `config`"):
        hub.save_pretrained(nn.Linear(2, 2), tmp_path / "x")
    assert not Path(tmp_path / "x" / "model.safetensors").exists()
