"""Named Reducio-DiT configs (a plain dict of field values).

Parameter counts (transformer with its condition projections and null tokens; the frozen text,
image-semantic and image-content encoders are not included), measured on the meta device with
`dit_parameter_count` (tests/models/dit/test_dit_presets.py checks the 1.2B one is within 5 %):

- reducio-dit-1.2b      1,182,449,616  (28 blocks, D 1600, 25 heads of 64; the paper's "1.2B")
- reducio-dit-pixart-xl   614,991,760  (PixArt-alpha XL/2 widths, so PixArt weights map 1:1)
- small                    30,217,360  (D 384, 12 blocks, built-in small encoders)
- tiny                      4,101,328  (D 192, 6 blocks, built-in small encoders; CPU seconds)
"""

from __future__ import annotations

from typing import Any

# Each preset is the fields that differ from DiTConfig's defaults (`DiTConfig.preset(name)` builds
# the config); plain data, so that config.py reads this table without an import cycle.

# The paper's model: 1.2B parameters [paper]; widths are our decision (docs/dit-design.md).
_DIT_1_2B: dict[str, Any] = {}

# PixArt-alpha XL/2 shapes (D 1152, 28 blocks, 16 heads, T5 4096 -> 1152 caption projection):
# every spatial weight of a PixArt-alpha checkpoint has a home here (loading/pixart.py).
_PIXART_XL = dict(hidden_size=1152, depth=28, num_heads=16)

# The built-in small encoders: MiniLM text (384), 8x8-pixel patch tokens (3*8*8 = 192) and the
# 8x-pooled RGB image as content (3 channels, already in [-1, 1], so no scale).
_SMALL_ENCODERS = dict(text_dim=384, semantic_dim=192, content_channels=3, content_scale=1.0)

# A GPU-hour model for the synthetic shapes world.
_SMALL = dict(hidden_size=384, depth=12, num_heads=6, **_SMALL_ENCODERS,
              content_split_threshold=256)

# CPU-sized: a training step (batch 8, 64 px clips: 16x4x2x2 latents) takes ~0.75 s on one thread.
# The content split starts above a 8x8 content grid (tiny trains at 64 px; a 256 px input
# splits), mirroring the 1.2B model that trains at 256 px and splits above 512 px.
_TINY = dict(hidden_size=192, depth=6, num_heads=6, **_SMALL_ENCODERS,
             content_split_threshold=64)

DIT_PRESETS: dict[str, dict[str, Any]] = {
    "reducio-dit-1.2b": _DIT_1_2B,
    "reducio-dit-pixart-xl": _PIXART_XL,
    "small": _SMALL,
    "tiny": _TINY,
}
