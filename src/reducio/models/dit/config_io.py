"""JSON round trip and type checks shared by the DiT and diffusion configs.

A frozen dataclass inherits `ConfigIO` to get `to_dict / from_dict / to_json / from_json /
replace`; an unknown key is a `ConfigError` that lists the valid keys, and a value of the wrong
type (a JSON hand edit writing "16" for 16) is refused when the object is built.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar

from reducio.errors import ConfigError

C = TypeVar("C", bound="ConfigIO")


class ConfigIO:
    """Mixin for frozen kw_only config dataclasses (tuples are stored as JSON lists)."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _to_json_value(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        if not isinstance(data, dict):
            raise ConfigError(f"{cls.__name__}.from_dict expects a dict, got {type(data).__name__}")
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise ConfigError(f"unknown {cls.__name__} key(s) {unknown}; valid keys: {valid}")
        return cls(**{k: _from_json_value(v) for k, v in data.items()})

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
        """A copy with some fields changed (validated again)."""
        valid = [f.name for f in dataclasses.fields(self)]
        unknown = sorted(set(changes) - set(valid))
        if unknown:
            raise ConfigError(f"unknown {type(self).__name__} key(s) {unknown}; valid keys: {valid}")
        return dataclasses.replace(self, **changes)


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


def _to_json_value(value: Any) -> Any:
    return [_to_json_value(v) for v in value] if isinstance(value, tuple) else value


def _from_json_value(value: Any) -> Any:
    return tuple(_from_json_value(v) for v in value) if isinstance(value, list) else value


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
