"""Recipes: YAML or JSON files that load into a task's config dataclass.

A recipe is named by a file in `reducio/training/recipes/` (e.g. `release`, `tiny-cpu`) or given
as a path. Its top-level `task` key must match the task being trained.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml

from reducio.errors import ConfigError
from reducio.configs import Config, apply_overrides

RECIPE_DIR = Path(__file__).parent / "recipes"
C = TypeVar("C", bound=Config)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a .yaml/.yml/.json file into a mapping."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist; pass an existing .yaml or .json file")
    text = path.read_text()
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot parse {str(path)!r}: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{str(path)!r} must hold a mapping of sections, got {type(data).__name__}")
    return data


def available_recipes(task: str | None = None) -> list[str]:
    """Names of the bundled recipes (for one task when given)."""
    names = []
    for path in sorted(RECIPE_DIR.glob("*.yaml")):
        if task is None or read_config_file(path).get("task") == task:
            names.append(path.stem)
    return names


def recipe_path(name_or_path: str | Path, task: str | None = None) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml", ".json") or candidate.exists():
        return candidate
    bundled = RECIPE_DIR / f"{name_or_path}.yaml"
    if not bundled.is_file():
        raise ConfigError(
            f"unknown recipe {str(name_or_path)!r}; valid names: {', '.join(available_recipes(task))} "
            "(or pass --config path/to/recipe.yaml)"
        )
    return bundled


def load_recipe(name_or_path: str | Path, config_class: type[C], overrides: list[str] | tuple[str, ...] = ()) -> C:
    """Load a recipe into `config_class`, then apply `--set` overrides."""
    path = recipe_path(name_or_path, _task_of(config_class))
    data = read_config_file(path)
    expected = _task_of(config_class)
    if expected is not None and data.get("task", expected) != expected:
        raise ConfigError(
            f"recipe {str(path)!r} is for task {data.get('task')!r}, not {expected!r}; "
            f"valid {expected} recipes: {', '.join(available_recipes(expected))}"
        )
    config = config_class.from_dict(data)
    return apply_overrides(config, list(overrides))


def _task_of(config_class: type) -> str | None:
    task = getattr(config_class, "__dataclass_fields__", {}).get("task")
    return None if task is None else task.default
