"""The configs layer: one base class for every typed config, and its helpers.

- `Config` (config.py): the dict / JSON round trip with coercion, key checks and nested sections.
- `coerce` (coercion.py): a YAML / `--set` / JSON value read as its field's declared type.
- `check_types` (type_checks.py): a constructed config's values against their annotations.
- `apply_overrides`, `parse_override` (overrides.py): `--set key.sub=value` strings.
- `lookup_preset` (presets.py): a named config, or an error listing the valid names.
"""

from reducio.configs.coercion import coerce
from reducio.configs.config import Config, check_keys, to_json_value
from reducio.configs.overrides import apply_overrides, parse_override
from reducio.configs.presets import lookup_preset
from reducio.configs.type_checks import check_types

__all__ = [
    "Config",
    "apply_overrides",
    "check_keys",
    "check_types",
    "coerce",
    "lookup_preset",
    "parse_override",
    "to_json_value",
]
