"""Ghost pixels: what a generated shapes-world clip draws away from its objects.

A model that has not learnt a shape well can leave a faint second copy of an object, smears or
fringes beside it. The ghost share of a clip counts them: per frame, the background is the median
colour; a pixel is foreground when it differs from it by more than the shapes evaluator's colour
tolerance (60 in 0..255 RGB, `ShapesEvaluatorConfig.colour_threshold`); the objects are the
largest 8-connected foreground components, as many as the prompt names, grown by a margin of
`OBJECT_MARGIN` pixels (antialiased edges). The share is the fraction of the pixels outside the
grown objects that are foreground, over all frames. The world's own renders of the same prompts
give the floor to compare with (`reducio eval pipeline` reports both).
"""

from __future__ import annotations

import torch

from reducio.errors import ConfigError
from reducio.eval.shapes import Clip, clip_pixels
from reducio.eval.shapes_detect import ShapesEvaluatorConfig, grow_masks, largest_components

OBJECT_MARGIN = 2  # pixels around each object that do not count as away from it


def object_masks(foreground: torch.Tensor, objects: int) -> torch.Tensor:
    """The `objects` largest 8-connected components of each frame: `T H W` bool -> `T H W` bool."""
    kept = torch.zeros_like(foreground)
    remaining = foreground.clone()
    for _ in range(objects):
        largest = largest_components(remaining)
        kept |= largest
        remaining &= ~largest
    return kept


def ghost_share(clip: Clip, objects: int, *, threshold: float | None = None,
                margin: int = OBJECT_MARGIN) -> float:
    """The share of pixels away from the `objects` largest foreground components that are
    foreground anyway (see the module docstring). `clip`: anything `clip_pixels` accepts."""
    if objects < 1:
        raise ConfigError(f"a shapes-world clip shows at least 1 object, got objects={objects}")
    threshold = ShapesEvaluatorConfig().colour_threshold if threshold is None else threshold
    pixels = clip_pixels(clip)                                                         # T H W 3
    background = pixels.flatten(1, 2).median(dim=1).values                             # T 3
    foreground = (pixels - background[:, None, None]).norm(dim=-1) > threshold         # T H W
    away = ~grow_masks(object_masks(foreground, objects), margin)                      # T H W
    return float((foreground & away).sum()) / max(int(away.sum()), 1)


__all__ = ["OBJECT_MARGIN", "ghost_share", "object_masks"]
