"""The one config base class (reducio.configs.Config): round trip, key checks, coercion."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from reducio.configs import Config, apply_overrides, check_types, coerce, lookup_preset
from reducio.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class _Inner(Config):
    sizes: tuple[int, ...] = (1, 2)
    name: str | None = None

    def __post_init__(self) -> None:
        check_types(self)


@dataclass(frozen=True, kw_only=True)
class _Outer(Config):
    inner: _Inner
    extra: _Inner = field(default_factory=_Inner)
    scale: float = 1.0
    mode: Literal["a", "b"] = "a"
    on: bool = False


def test_nested_round_trip_through_json(tmp_path):
    config = _Outer(inner=_Inner(sizes=(3, 4, 5), name="a"), scale=2.5)
    assert config.to_dict() == {"inner": {"sizes": [3, 4, 5], "name": "a"},
                                "extra": {"sizes": [1, 2], "name": None}, "scale": 2.5,
                                "mode": "a", "on": False}
    config.to_json(tmp_path / "c.json")
    assert _Outer.from_json(tmp_path / "c.json") == config


def test_unknown_keys_are_named_by_path_with_the_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown key bogus in _Outer; valid keys: inner, extra, scale"):
        _Outer.from_dict({"inner": {}, "bogus": 1})
    with pytest.raises(ConfigError, match=r"unknown key inner\.size in _Inner; valid keys: sizes, name"):
        _Outer.from_dict({"inner": {"size": [1]}})
    with pytest.raises(ConfigError, match=r"unknown keys extra\.a, extra\.b in _Inner"):
        _Outer.from_dict({"inner": {}, "extra": {"b": 1, "a": 2}})
    with pytest.raises(ConfigError, match=r"unknown key nme in _Inner"):
        _Inner().replace(nme="x")


def test_missing_section_names_it():
    with pytest.raises(ConfigError, match=r"_Outer needs the key\(s\) 'inner' \(a _Inner mapping\)"):
        _Outer.from_dict({"scale": 1.0})


def test_diffusers_metadata_keys_are_ignored():
    config = _Outer.from_dict({"_class_name": "X", "_diffusers_version": "0.30", "inner": {}})
    assert config == _Outer(inner=_Inner())


def test_yaml_and_set_strings_are_coerced_to_the_declared_types():
    config = _Outer.from_dict({"inner": {"sizes": "3, 4", "name": "null"}, "scale": "1e-4",
                               "on": "yes", "mode": "b"})
    assert config == _Outer(inner=_Inner(sizes=(3, 4), name=None), scale=1e-4, on=True, mode="b")
    assert isinstance(config.scale, float)
    assert _Inner().replace(sizes=[5, 6]).sizes == (5, 6)  # JSON / YAML lists become tuples
    assert apply_overrides(config, ["inner.sizes=7,8", "scale=2"]).inner.sizes == (7, 8)


@pytest.mark.parametrize("data, message", [
    ({"inner": {"sizes": ["one"]}}, r"inner\.sizes\[0\] must be an integer, got 'one'"),
    ({"inner": {}, "scale": "fast"}, r"scale must be a number, got 'fast'"),
    ({"inner": {}, "scale": "nan"}, r"scale must be a finite number, got 'nan'"),
    ({"inner": {}, "scale": "-inf"}, r"scale must be a finite number, got '-inf'"),
    ({"inner": {}, "scale": float("inf")}, r"scale must be a finite number, got inf"),
    ({"inner": {}, "mode": "c"}, r"mode must be one of 'a', 'b', got 'c'"),
    ({"inner": {}, "on": "maybe"}, r"on must be true or false, got 'maybe'"),
    ({"inner": 3}, r"inner must be a mapping, got int 3"),
])
def test_values_that_cannot_be_coerced_name_the_path(data, message):
    with pytest.raises(ConfigError, match=message):
        _Outer.from_dict(data)


def test_coerce_and_check_types_directly():
    assert coerce("1_000", int, "steps") == 1000
    with pytest.raises(ConfigError, match="steps must be an integer, got 1.5"):
        coerce(1.5, int, "steps")
    with pytest.raises(ConfigError, match="invalid _Inner types: sizes="):
        _Inner(sizes=("1",))  # a constructed config is checked, not coerced


@dataclass(frozen=True, kw_only=True)
class _Checked(Config):
    scale: float = 1.0

    def __post_init__(self) -> None:
        check_types(self)


def test_a_constructed_config_refuses_nan():
    with pytest.raises(ConfigError, match="scale=nan is not a finite number"):
        _Checked(scale=float("nan"))


def test_every_training_float_refuses_nan_from_set():
    """No training setting means NaN: `--set optim.weight_decay=nan` used to be accepted silently."""
    from reducio.training.config import VAETrainConfig

    with pytest.raises(ConfigError, match="optim.weight_decay must be a finite number"):
        apply_overrides(VAETrainConfig(), ["optim.weight_decay=nan"])


def test_unreadable_json_names_the_fix(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read _Inner JSON"):
        _Inner.from_json(tmp_path / "bad.json")


def test_lookup_preset_lists_valid_names():
    table = {"b": 2, "a": 1}
    assert lookup_preset("a", table, what="toy") == 1
    with pytest.raises(ConfigError, match=r"unknown toy preset 'c'; valid presets: \['a', 'b'\]"):
        lookup_preset("c", table, what="toy")
