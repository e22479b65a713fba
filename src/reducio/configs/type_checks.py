"""Checking a constructed config's field values against their annotations (no coercion).

`Config.from_dict` coerces what it reads; a config built directly (`VAEConfig(frames="16")`)
is not coerced, so each config calls `check_types` in its `__post_init__` to refuse it.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Literal

from reducio.errors import ConfigError


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
    if hint is float:   # a finite number: NaN or infinity is never a setting
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
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
    if hint is float:
        return "a finite number"
    return getattr(hint, "__name__", str(hint))
