"""Reading a config value as its field's declared type.

Recipes come from YAML and `--set` strings, where PyYAML reads `1e-4` as a string and a tuple is
written `0.5,0.9`; JSON has lists where the configs have tuples. `coerce` converts such a value to
the field's type (bool, int, float, str, Literal, tuple, dict, Optional/Union, nested config) or
raises a ConfigError naming the key's path, the value and the expected type.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Literal, Union

import yaml

from reducio.errors import ConfigError

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NONE = {"none", "null", "~", ""}


def join_path(where: str, key: str) -> str:
    """The path of `key` inside the section at `where` ("optim" + "lr" -> "optim.lr")."""
    return f"{where}.{key}" if where else key


def is_section(tp: Any) -> bool:
    """True for a field type that is itself a config class (a nested section)."""
    return isinstance(tp, type) and dataclasses.is_dataclass(tp) and hasattr(tp, "from_dict")


def type_name(tp: Any) -> str:
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
        raise ConfigError(f"{where}: cannot read {value!r} as {type_name(tp)} ({'; '.join(errors)})")
    if origin is Literal:
        text = value.strip() if isinstance(value, str) else value
        if text in args:
            return text
        raise ConfigError(f"{where} must be one of {', '.join(repr(a) for a in args)}, got {value!r}")
    if is_section(tp):
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
        number = None
        if isinstance(value, (int, float)):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                pass
        if number is None:
            raise ConfigError(f"{where} must be a number, got {value!r}")
        if not math.isfinite(number):   # "nan" / "inf" parse as floats but no setting means them
            raise ConfigError(f"{where} must be a finite number, got {value!r}")
        return number
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
        return {coerce(k, key_type, where): coerce(v, value_type, join_path(where, str(k))) for k, v in value.items()}
    raise ConfigError(f"{where}: unsupported config type {type_name(tp)}")


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
