"""Strict state-dict loading with a report a person can act on.

`nn.Module.load_state_dict(strict=True)` stops at the first shape mismatch with a message that
lists every key; here all three problems (missing, unexpected, mis-shaped keys) are collected,
counted and shown together, naming the file, before anything is copied.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from reducio.errors import CheckpointError

logger = logging.getLogger(__name__)

REPORT_LIMIT = 20  # keys shown per category; the counts are always complete


@dataclass(frozen=True, kw_only=True)
class StateDictReport:
    """How a state dict lines up with a module's own."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def _sections(self) -> list[tuple[str, list[str]]]:
        return [(title, items) for title, items in (
            ("missing (in the model, not in the file)", self.missing),
            ("unexpected (in the file, not in the model)", self.unexpected),
            ("mis-shaped (file shape vs model shape)",
             [f"{k}: {list(got)} vs {list(want)}" for k, got, want in self.mismatched]),
        ) if items]

    def one_line(self, limit: int = 3) -> str:
        """Counts and the first `limit` keys of each problem, on one line (for error messages)."""
        parts = []
        for title, items in self._sections():
            more = f", ... and {len(items) - limit} more" if len(items) > limit else ""
            parts.append(f"{len(items)} {title}: {', '.join(items[:limit])}{more}")
        return "; ".join(parts)

    def format(self, limit: int = REPORT_LIMIT) -> str:
        lines: list[str] = []
        for title, items in self._sections():
            lines.append(f"{len(items)} {title}:")
            lines.extend(f"  {item}" for item in items[:limit])
            if len(items) > limit:
                lines.append(f"  ... and {len(items) - limit} more")
        return "\n".join(lines)


def compare_state_dict(module: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> StateDictReport:
    """Missing / unexpected / mis-shaped keys of `state_dict` against `module` (shapes only)."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [(k, tuple(v.shape), tuple(expected[k].shape)) for k, v in state_dict.items()
                  if k in expected and tuple(v.shape) != tuple(expected[k].shape)]
    return StateDictReport(missing=missing, unexpected=unexpected, mismatched=mismatched)


def load_state_dict_strict(
    module: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    source: str,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """Copy `state_dict` into `module` only if every key and shape matches exactly.

    Floating-point tensors are cast to `dtype`, or else to the dtype of the module's own tensor
    of that name (fp16 release weights into an fp32 model); other dtypes are kept. A module
    built on the meta device (no memory) takes the tensors themselves (`assign=True`).

    Raises:
        CheckpointError: naming `source` and listing the missing, unexpected and mis-shaped keys.
    """
    report = compare_state_dict(module, state_dict)
    if not report.ok:
        logger.debug("%s against %s:\n%s", source, type(module).__name__, report.format())
        raise CheckpointError(
            f"{source} does not match {type(module).__name__}: {report.one_line()}; check that the config "
            "matches the checkpoint (pass config= / --config; `reducio -v` lists every key)"
        )
    own = module.state_dict()
    on_meta = any(t.is_meta for t in own.values())
    if dtype is not None and not on_meta:
        module.to(dtype)  # copy_ below would cast back to the module's dtype otherwise
        own = module.state_dict()
    cast: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        target = own[key]
        if value.is_floating_point() and target.is_floating_point():
            value = value.to(dtype or target.dtype)
        elif value.dtype != target.dtype:
            raise CheckpointError(f"{source}: {key} has dtype {value.dtype}, the model expects "
                                  f"{target.dtype}; the file does not belong to this model")
        cast[key] = value
    module.load_state_dict(cast, strict=True, assign=on_meta)
    logger.debug("loaded %d tensors from %s into %s", len(cast), source, type(module).__name__)
    return module


def count_parameters(module: nn.Module) -> int:
    """Parameters of `module`, counting tied ones once."""
    return sum(p.numel() for p in {id(p): p for p in module.parameters()}.values())
