"""Looking up a named config (a preset) in a plain dict of config objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from reducio.errors import ConfigError

V = TypeVar("V")


def lookup_preset(name: str, table: Mapping[str, V], *, what: str) -> V:
    """`table[name]`, or a ConfigError naming the valid presets (`what`: "VAE", "DiT"...)."""
    if name not in table:
        raise ConfigError(f"unknown {what} preset {name!r}; valid presets: {sorted(table)}")
    return table[name]
