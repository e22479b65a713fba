"""Typed, strict config sections: dict / JSON round trip, type coercion and `--set` overrides.

Every training config is a tree of frozen keyword-only dataclasses that inherit `ConfigSection`.
A recipe (YAML or JSON) loads into exactly these classes: an unknown key is a `ConfigError` that
lists the valid ones, and a value is coerced to the field's declared type (a YAML `1e-4`, which
PyYAML reads as a string, becomes a float; `"0.5,0.9"` becomes a tuple) or rejected with the
field's path, the value and the expected type.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, TypeVar, Union

import yaml

from reducio.configs import JsonConfig
from reducio.errors import ConfigError

S = TypeVar("S", bound="ConfigSection")

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NONE = {"none", "null", "~", ""}


class ConfigSection(JsonConfig):
    """Mixin for `@dataclass(frozen=True, kw_only=True)` configs (see docs/architecture.md, Configs).

    `to_dict / to_json / from_json / replace` are `JsonConfig`'s; `from_dict` coerces values
    (recipes come from YAML and `--set` strings) and names each key by its path in the tree.
    """

    @classmethod
    def from_dict(cls: type[S], data: dict[str, Any], *, where: str = "") -> S:
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise ConfigError(f"{where or cls.__name__} must be a mapping, got {type(data).__name__} {data!r}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigError(
                f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(_join(where, k) for k in unknown)} "
                f"in {cls.__name__}; valid keys: {', '.join(names)}"
            )
        hints = typing.get_type_hints(cls)
        values = {k: coerce(v, hints[k], _join(where, k)) for k, v in data.items()}
        try:
            return cls(**values)
        except (TypeError, ValueError) as error:
            if isinstance(error, ConfigError):
                raise
            raise ConfigError(f"invalid {where or cls.__name__}: {error}") from error


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(value: Any, tp: Any, where: str) -> Any:
    """Return `value` converted to type `tp`, or raise ConfigError naming `where`."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if type(None) in args and (value is None or (isinstance(value, str) and value.strip().lower() in _NONE)):
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(value, arg, where)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(f"{where}: cannot read {value!r} as {_type_name(tp)} ({'; '.join(errors)})")
    if origin is Literal:
        text = value.strip() if isinstance(value, str) else value
        if text in args:
            return text
        raise ConfigError(f"{where} must be one of {', '.join(repr(a) for a in args)}, got {value!r}")
    if isinstance(tp, type) and issubclass(tp, ConfigSection):
        if isinstance(value, str):
            value = yaml.safe_load(value)
        return tp.from_dict(value, where=where)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip().replace("_", ""))
            except ValueError:
                try:
                    number = float(value)
                except ValueError:
                    number = None
                if number is not None and number.is_integer():
                    return int(number)
        raise ConfigError(f"{where} must be an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{where} must be a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where} must be a string, got {value!r}; quote it in YAML")
    if origin is tuple:
        items = _as_sequence(value, where)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(items))
        if len(items) != len(args):
            raise ConfigError(f"{where} must have {len(args)} items, got {len(items)}: {value!r}")
        return tuple(coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(items, args)))
    if origin is dict:
        if isinstance(value, str):
            value = yaml.safe_load(value) or {}
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        key_type, value_type = args or (str, Any)
        return {coerce(k, key_type, where): coerce(v, value_type, _join(where, str(k))) for k, v in value.items()}
    raise ConfigError(f"{where}: unsupported config type {_type_name(tp)}")


def _as_sequence(value: Any, where: str) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            parsed = yaml.safe_load(text)
            if isinstance(parsed, list):
                return parsed
        return [part.strip() for part in text.split(",") if part.strip()]
    raise ConfigError(f"{where} must be a list, got {value!r}")


def parse_override(text: str) -> tuple[list[str], str]:
    """`"optim.lr=1e-4"` -> (["optim", "lr"], "1e-4")."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects KEY.SUB=VALUE (e.g. optim.lr=1e-4), got {text!r}")
    return [part for part in key.strip().split(".")], value


def apply_overrides(config: S, overrides: list[str] | tuple[str, ...]) -> S:
    """Apply `--set key.sub=value` strings; values are coerced to each field's declared type."""
    data = config.to_dict()
    cls = type(config)
    for text in overrides:
        path, raw = parse_override(text)
        _set_path(cls, data, path, raw, where="")
    return cls.from_dict(data)


def _set_path(cls: type, data: dict[str, Any], path: list[str], raw: str, where: str) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    key = path[0]
    here = _join(where, key)
    if key not in names:
        raise ConfigError(f"unknown key {here!r} in --set; valid keys at this level: {', '.join(names)}")
    tp = typing.get_type_hints(cls)[key]
    if len(path) == 1:
        # Coercion happens in from_dict against the field type; free-form values are parsed as YAML.
        data[key] = raw if _wants_text(tp) else yaml.safe_load(raw) if _is_free(tp) else raw
        return
    if isinstance(tp, type) and issubclass(tp, ConfigSection):
        _set_path(tp, data[key], path[1:], raw, here)
        return
    if typing.get_origin(tp) is dict:
        node = data.setdefault(key, {}) or {}
        data[key] = node
        for part in path[1:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = yaml.safe_load(raw)
        return
    raise ConfigError(f"{here} is a {_type_name(tp)}, it has no sub-key {path[1]!r}")


def _wants_text(tp: Any) -> bool:
    return tp is str or (typing.get_origin(tp) in (Union, types.UnionType) and str in typing.get_args(tp))


def _is_free(tp: Any) -> bool:
    return tp is Any or typing.get_origin(tp) is dict
