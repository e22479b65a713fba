"""What a fine-tune may change of the DiT it loads (`model.init`) through the config's DiT fields.

The architecture comes with the loaded weights, so a DiT field set in the config either equals the
loaded one or is a change: a smaller `patch_size` (each entry dividing the loaded one) is applied
by mapping the weights (models/dit/patch_resize.py); any other change is refused by name rather
than ignored.
"""

from __future__ import annotations

import logging
from typing import Any

from reducio.errors import ConfigError
from reducio.models.dit import DiTConfig
from reducio.models.dit.patch_resize import patch_factors

logger = logging.getLogger(__name__)


def fine_tune_patch_size(current: DiTConfig, changes: dict[str, Any], init: str,
                         key: str) -> tuple[int, int, int] | None:
    """The new patch size `changes` asks of the DiT loaded from `init` (None: unchanged); a
    ConfigError naming `key` for any other field that differs from the loaded DiT's."""
    if not changes:
        return None
    target = current.replace(**changes)        # coerced and validated like any DiTConfig change
    changed = sorted(k for k in changes if getattr(target, k) != getattr(current, k))
    fixed = [k for k in changed if k != "patch_size"]
    if fixed:
        loaded = ", ".join(f"{k}={getattr(current, k)!r}" for k in fixed)
        raise ConfigError(f"{key} {fixed} cannot change the DiT loaded from {init} (model.init: "
                          f"{loaded}); a fine-tune may only shrink patch_size; drop the overrides or "
                          "train from scratch (model.init=null)")
    if "patch_size" not in changed:
        return None
    patch_factors(current.patch_size, target.patch_size)      # ConfigError unless each entry divides
    logger.info("patch_size %s -> %s: the patch embedding and final layer of the DiT from %s mapped "
                "to the smaller patches", list(current.patch_size), list(target.patch_size), init)
    return tuple(target.patch_size)


__all__ = ["fine_tune_patch_size"]
