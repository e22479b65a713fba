"""The JSON round trip, type checks and preset lookup shared by every typed config.

A frozen kw_only dataclass inherits `JsonConfig` to get `to_dict / from_dict / to_json /
from_json / replace`. Tuples are stored as JSON lists and read back as tuples; a field typed as
another `JsonConfig` is stored as a nested object and rebuilt by that class's `from_dict`. An
unknown key is a `ConfigError` naming it and listing the valid keys. Each config keeps its own
checks in `__post_init__` (calling `check_types` there refuses a JSON hand edit such as "16"
for 16). Training sections (`training.configuration.ConfigSection`) reuse all of this but read
dicts with their own coercing `from_dict`, since recipes come from YAML and `--set` strings.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from reducio.errors import ConfigError

C = TypeVar("C", bound="JsonConfig")
V = TypeVar("V")


class JsonConfig:
    """Mixin for frozen kw_only config dataclasses: strict dict / JSON round trip."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: to_json_value(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        if not isinstance(data, dict):
            raise ConfigError(f"{cls.__name__}.from_dict expects a dict, got {type(data).__name__}")
        # "_class_name", "_diffusers_version"...: metadata diffusers writes into a model's config.json
        data = {k: v for k, v in data.items() if not k.startswith("_")}
        check_keys(cls, data)
        sections = _section_fields(cls)
        for name, section in sections.items():
            field = next(f for f in dataclasses.fields(cls) if f.name == name)
            required = (field.default is dataclasses.MISSING
                        and field.default_factory is dataclasses.MISSING)
            if required and name not in data:
                raise ConfigError(f"{cls.__name__} needs a {name!r} section "
                                  f"(a {section.__name__} dict)")
        values = {k: sections[k].from_dict(v) if k in sections else _from_json_value(v)
                  for k, v in data.items()}
        return cls(**values)

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_json(cls: type[C], path: str | Path) -> C:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read {cls.__name__} JSON {path}: {exc}; "
                              "pass the path of a config.json written by to_json") from exc
        return cls.from_dict(data)

    def replace(self: C, **changes: Any) -> C:
        """A copy with some fields changed (validated again). Lists are read as tuples, as in
        `from_dict`, so overrides from YAML / JSON / `--set` (`patch_size: [1, 4, 4]`) work."""
        check_keys(type(self), changes)
        sections = _section_fields(type(self))
        changes = {k: v if k in sections else _from_json_value(v) for k, v in changes.items()}
        return dataclasses.replace(self, **changes)


def check_keys(cls: type, data: Mapping[str, Any]) -> None:
    """Raise ConfigError naming the keys of `data` that are not fields of `cls`."""
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} key(s) {unknown}; valid keys: {valid}")


def lookup_preset(name: str, table: Mapping[str, V], *, what: str) -> V:
    """`table[name]`, or a ConfigError naming the valid presets (`what`: "VAE", "DiT"...)."""
    if name not in table:
        raise ConfigError(f"unknown {what} preset {name!r}; valid presets: {sorted(table)}")
    return table[name]


def to_json_value(value: Any) -> Any:
    """Config value -> JSON-ready value (tuples become lists, nested configs become dicts)."""
    if isinstance(value, JsonConfig):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    return value


def _from_json_value(value: Any) -> Any:
    return tuple(_from_json_value(v) for v in value) if isinstance(value, list) else value


def _section_fields(cls: type) -> dict[str, type[JsonConfig]]:
    """Fields typed as a nested JsonConfig (read from a nested JSON object)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)
            if isinstance(hints[f.name], type) and issubclass(hints[f.name], JsonConfig)}


# ----------------------------------------------------------------------------- type checks
def check_types(config: Any) -> None:
    """Raise ConfigError naming every field whose value does not match its annotation."""
    hints = typing.get_type_hints(type(config))
    errors = []
    for f in dataclasses.fields(config):
        value, hint = getattr(config, f.name), hints[f.name]
        if not _matches(value, hint):
            errors.append(f"{f.name}={value!r} is not {_describe(hint)}")
    if errors:
        raise ConfigError(f"invalid {type(config).__name__} types: " + "; ".join(errors))


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is Literal:
        return value in typing.get_args(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(_matches(v, a) for v, a in zip(value, args))
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, h) for h in typing.get_args(hint))
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return f"one of {typing.get_args(hint)}"
    return getattr(hint, "__name__", str(hint))
