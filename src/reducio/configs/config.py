"""`Config`: the one base class of every typed config (model architectures and training sections).

A frozen kw_only dataclass inherits `Config` to get `to_dict / from_dict / to_json / from_json /
replace`:

- `from_dict` reads a mapping from JSON, YAML or `--set` strings. Each value is coerced to its
  field's declared type (a YAML `1e-4`, read by PyYAML as a string, becomes a float; `"0.5,0.9"`
  or a JSON list becomes a tuple) or refused with the key's path (`optim.lr`), the value and the
  expected type. A field typed as another `Config` is a nested section, read from a nested
  mapping by that class's `from_dict`.
- An unknown key is a `ConfigError` naming it by its path and listing the valid keys; a missing
  required key is one too. Keys starting with "_" ("_class_name", "_diffusers_version"...: the
  metadata diffusers writes into a model's config.json) are ignored.
- Runtime switches (tiling, activation checkpointing) are not config fields: they live on the
  model. A config class lists in `RUNTIME_KEYS` the ones its older files still hold, each with the
  call that replaces it. A model built from such a file applies them (`split_runtime_keys`);
  `from_dict` alone, which builds no model, drops them. Both log a notice naming the key and the
  call, so nothing is dropped silently and old files keep loading.
- `to_dict` / `to_json` store tuples as lists and nested sections as nested objects;
  `from_dict(to_dict())` gives the config back.

Each config keeps its own value checks in `__post_init__`; calling `check_types` there also
refuses a wrong type passed to the constructor directly (`VAEConfig(frames="16")`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from reducio.configs.coercion import coerce, is_section, join_path
from reducio.errors import ConfigError

logger = logging.getLogger(__name__)

C = TypeVar("C", bound="Config")


class Config:
    """Mixin for `@dataclass(frozen=True, kw_only=True)` configs: a strict, coercing dict / JSON
    round trip (see the module docstring; docs/architecture.md §8.2)."""

    # Keys older files of this config hold that are runtime settings of the model now:
    # key -> the call that sets it (e.g. "ReducioVAE.enable_tiling(tile_sample_min_size=...)").
    RUNTIME_KEYS: ClassVar[Mapping[str, str]] = {}

    def to_dict(self) -> dict[str, Any]:
        return {f.name: to_json_value(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any] | C, *, where: str = "") -> C:
        """Build from a mapping; `where` is the section's path in an enclosing config ("optim")."""
        if isinstance(data, cls):
            return data
        label = where or cls.__name__
        if not isinstance(data, Mapping):
            raise ConfigError(f"{label} must be a mapping, got {type(data).__name__} {data!r}")
        data = {k: v for k, v in data.items() if not str(k).startswith("_")}
        data, _ = cls.split_runtime_keys(data, source=label, applied=False)
        check_keys(cls, data, where=where)
        hints = typing.get_type_hints(cls)
        missing = [f for f in dataclasses.fields(cls) if f.name not in data and _required(f)]
        if missing:
            needs = [f"{join_path(where, f.name)!r}"
                     + (f" (a {hints[f.name].__name__} mapping)" if is_section(hints[f.name]) else "")
                     for f in missing]
            raise ConfigError(f"{label} needs the key(s) {', '.join(needs)}")
        values = {k: coerce(v, hints[k], join_path(where, k)) for k, v in data.items()}
        try:
            return cls(**values)
        except ConfigError:
            raise
        except (TypeError, ValueError) as error:
            raise ConfigError(f"invalid {label}: {error}") from error

    @classmethod
    def split_runtime_keys(cls, data: Mapping[str, Any], *, source: str = "",
                           applied: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
        """(architecture keys, runtime keys) of `data`, logging a notice for each runtime key
        (`applied`: whether the caller applies it to a model or drops it)."""
        runtime = {k: v for k, v in data.items() if k in cls.RUNTIME_KEYS}
        if runtime:
            fate = ("applied to the model" if applied
                    else "ignored here (a config alone builds no model)")
            logger.warning("%s: runtime settings are no longer %s keys: %s; %s. Set them with those "
                           "calls; saving the model again writes a config without them",
                           source or cls.__name__, cls.__name__,
                           ", ".join(f"{k}={v!r} (now {cls.RUNTIME_KEYS[k]})" for k, v in runtime.items()),
                           fate)
        return {k: v for k, v in data.items() if k not in runtime}, runtime

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
        """A copy with some fields changed, each coerced like a `from_dict` value (so overrides
        from YAML / JSON / `--set`, such as `patch_size: [1, 4, 4]`, work) and validated again."""
        check_keys(type(self), changes)
        hints = typing.get_type_hints(type(self))
        changes = {k: coerce(v, hints[k], k) for k, v in changes.items()}
        return dataclasses.replace(self, **changes)


def check_keys(cls: type, data: Mapping[str, Any], *, where: str = "") -> None:
    """Raise ConfigError naming (by path) the keys of `data` that are not fields of `cls`."""
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(valid), key=str)
    if unknown:
        paths = ", ".join(join_path(where, str(k)) for k in unknown)
        raise ConfigError(f"unknown key{'s' if len(unknown) > 1 else ''} {paths} in {cls.__name__}; "
                          f"valid keys: {', '.join(valid)}")


def to_json_value(value: Any) -> Any:
    """Config value -> JSON-ready value (tuples become lists, nested configs become dicts)."""
    if isinstance(value, Config):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    return value


def _required(field: dataclasses.Field) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
