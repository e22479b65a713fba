"""The shared JSON round trip of typed configs (reducio.configs)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from reducio.configs import JsonConfig, check_types, lookup_preset
from reducio.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class _Inner(JsonConfig):
    sizes: tuple[int, ...] = (1, 2)
    name: str | None = None

    def __post_init__(self) -> None:
        check_types(self)


@dataclass(frozen=True, kw_only=True)
class _Outer(JsonConfig):
    inner: _Inner
    extra: _Inner = field(default_factory=_Inner)
    scale: float = 1.0


def test_nested_round_trip_through_json(tmp_path):
    config = _Outer(inner=_Inner(sizes=(3, 4, 5), name="a"), scale=2.5)
    assert config.to_dict() == {"inner": {"sizes": [3, 4, 5], "name": "a"},
                                "extra": {"sizes": [1, 2], "name": None}, "scale": 2.5}
    config.to_json(tmp_path / "c.json")
    assert _Outer.from_json(tmp_path / "c.json") == config


def test_unknown_and_missing_keys_name_the_fix():
    with pytest.raises(ConfigError, match=r"unknown _Outer key\(s\) \['bogus'\]; valid keys: \['inner'"):
        _Outer.from_dict({"inner": {}, "bogus": 1})
    with pytest.raises(ConfigError, match=r"unknown _Inner key\(s\) \['size'\]"):
        _Outer.from_dict({"inner": {"size": [1]}})
    with pytest.raises(ConfigError, match="_Outer needs a 'inner' section"):
        _Outer.from_dict({"scale": 1.0})
    with pytest.raises(ConfigError, match=r"unknown _Inner key\(s\) \['nme'\]"):
        _Inner().replace(nme="x")


def test_type_check_and_unreadable_json(tmp_path):
    with pytest.raises(ConfigError, match="invalid _Inner types: sizes="):
        _Inner.from_dict({"sizes": ["1"]})
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read _Inner JSON"):
        _Inner.from_json(tmp_path / "bad.json")


def test_lookup_preset_lists_valid_names():
    table = {"b": 2, "a": 1}
    assert lookup_preset("a", table, what="toy") == 1
    with pytest.raises(ConfigError, match=r"unknown toy preset 'c'; valid presets: \['a', 'b'\]"):
        lookup_preset("c", table, what="toy")


def test_replace_reads_lists_as_tuples_like_from_dict():
    # Overrides from YAML / --set arrive as lists: a tuple field takes them, nested lists too.
    from reducio.models.dit import DiTConfig

    config = DiTConfig.preset("tiny").replace(patch_size=[1, 4, 4])
    assert config.patch_size == (1, 4, 4)
    assert DiTConfig.from_dict(config.to_dict()) == config
