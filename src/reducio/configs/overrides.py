"""`--set key.sub=value` overrides of a config, each value coerced to its field's declared type."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import TYPE_CHECKING, Any, TypeVar, Union

import yaml

from reducio.configs.coercion import is_section, join_path, type_name
from reducio.errors import ConfigError

if TYPE_CHECKING:
    from reducio.configs.config import Config

C = TypeVar("C", bound="Config")


def parse_override(text: str) -> tuple[list[str], str]:
    """`"optim.lr=1e-4"` -> (["optim", "lr"], "1e-4")."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects KEY.SUB=VALUE (e.g. optim.lr=1e-4), got {text!r}")
    return [part for part in key.strip().split(".")], value


def apply_overrides(config: C, overrides: list[str] | tuple[str, ...]) -> C:
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
    here = join_path(where, key)
    if key not in names:
        raise ConfigError(f"unknown key {here!r} in --set; valid keys at this level: {', '.join(names)}")
    tp = typing.get_type_hints(cls)[key]
    if len(path) == 1:
        # Coercion happens in from_dict against the field type; free-form values are parsed as YAML.
        data[key] = raw if _wants_text(tp) else yaml.safe_load(raw) if _is_free(tp) else raw
        return
    if is_section(tp):
        _set_path(tp, data[key], path[1:], raw, here)
        return
    if typing.get_origin(tp) is dict:
        node = data.setdefault(key, {}) or {}
        data[key] = node
        for part in path[1:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = yaml.safe_load(raw)
        return
    raise ConfigError(f"{here} is a {type_name(tp)}, it has no sub-key {path[1]!r}")


def _wants_text(tp: Any) -> bool:
    return tp is str or (typing.get_origin(tp) in (Union, types.UnionType) and str in typing.get_args(tp))


def _is_free(tp: Any) -> bool:
    return tp is Any or typing.get_origin(tp) is dict
