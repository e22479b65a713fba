"""Exponential moving average of a model's floating-point parameters (and a copy of its buffers)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from reducio.errors import CheckpointError, ConfigError
from reducio.training.fsdp import copy_full_into_sharded


class EMA:
    """shadow <- decay * shadow + (1 - decay) * param, every `update_every` steps from `start_step`.

    Before `start_step` the shadow copies the weights, so an EMA started late does not average in
    the random initialisation. Buffers (e.g. BatchNorm statistics) are copied, not averaged.
    `names`: average only these state-dict entries (a LoRA run: the adapter, not the frozen base,
    whose average is itself); None averages the whole state dict.
    """

    def __init__(self, model: nn.Module, *, decay: float = 0.999, start_step: int = 0, update_every: int = 1,
                 names: list[str] | None = None) -> None:
        self.decay = decay
        self.start_step = start_step
        self.update_every = update_every
        state = model.state_dict()
        if names is not None:
            absent = sorted(set(names) - set(state))
            if absent:
                raise ConfigError(f"EMA asked to average {len(absent)} tensors the model does not have "
                                  f"(first: {absent[0]})")
        self.partial = names is not None
        self.shadow: dict[str, torch.Tensor] = {
            name: tensor.detach().clone() for name, tensor in state.items() if names is None or name in names
        }

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Call after the optimiser update of iteration `step` (0-based)."""
        if step % self.update_every:
            return
        decay = 0.0 if step < self.start_step else self.decay
        state = model.state_dict()
        for name, shadow in self.shadow.items():
            tensor = state[name]
            if tensor.is_floating_point():
                shadow.lerp_(tensor.detach().to(shadow.dtype), 1.0 - decay)
            else:
                shadow.copy_(tensor)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.shadow)

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        missing = sorted(set(self.shadow) - set(state))
        if missing:
            raise CheckpointError(f"EMA state lacks {len(missing)} tensors (first: {missing[0]}); "
                                  "the checkpoint was written for another model")
        # whole tensors from a checkpoint; a sharded (FSDP) shadow keeps its own shard of each
        copy_full_into_sharded(self.shadow, {n: state[n] for n in self.shadow})

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        self._load(model, self.shadow)

    def _load(self, model: nn.Module, state: dict[str, torch.Tensor]) -> None:
        if not self.partial:
            model.load_state_dict(state, strict=True)
            return
        result = model.load_state_dict(state, strict=False)
        if result.unexpected_keys:
            raise CheckpointError(f"EMA tensors {result.unexpected_keys[:3]} are not in the model")

    @contextmanager
    def swapped_into(self, model: nn.Module) -> Iterator[nn.Module]:
        """Temporarily give `model` the EMA weights (for samples / eval), then restore its own."""
        backup = {name: tensor.detach().clone() for name, tensor in model.state_dict().items() if name in self.shadow}
        self.copy_to(model)
        try:
            yield model
        finally:
            self._load(model, backup)
