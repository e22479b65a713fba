"""The interface between the shared training loop and what is being trained.

An objective owns its models, optimisers, LR schedulers and loss, and performs its own backward
passes and optimiser steps (manual optimisation, as the release does with two optimisers). The
`Trainer` owns everything that is the same for every task: the accelerator, the data stream,
gradient accumulation, EMA, checkpoints and resume, logging, samples and the run summary.

Contract, in call order:

1. `setup(accelerator)`: build models / optimisers / schedulers and `accelerator.prepare` the models
   and optimisers (not the schedulers: they are stepped once per iteration by the objective).
2. `training_step(batch, step) -> dict[str, float]`: called once per micro-batch inside
   `accelerator.accumulate(*models().values())`; `step` is the 0-based iteration. Use
   `accelerator.backward`; call `optimizer.step()` / `zero_grad()` every micro-batch (accelerate
   skips them until the last one) and step the schedulers only when `accelerator.sync_gradients`.
3. `sample(batch, step) -> Samples`: no-grad visual samples + metrics on a fixed batch.
4. `export(directory)`: write the trained model so `from_pretrained(directory)` can load it.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer


@dataclass
class Samples:
    """Videos to show side by side (each (B, 3, T, H, W) in [-1, 1]) and scalar metrics."""

    videos: dict[str, torch.Tensor] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


class Objective(abc.ABC):
    """What one task trains. See the module docstring for the call order."""

    #: Passed to DistributedDataParallel (the VAE's 2D encoder computes outputs it never uses).
    find_unused_parameters: bool = False
    #: Whether `setup` shards its models itself under `train.fsdp` (and `export` takes `states`).
    supports_fsdp: bool = False

    @abc.abstractmethod
    def setup(self, accelerator) -> None: ...

    @abc.abstractmethod
    def models(self) -> dict[str, nn.Module]:
        """Trained modules as prepared by accelerate (possibly DDP-wrapped), by checkpoint name."""

    @abc.abstractmethod
    def optimizers(self) -> dict[str, Optimizer]: ...

    @abc.abstractmethod
    def schedulers(self) -> dict[str, Any]: ...

    @abc.abstractmethod
    def training_step(self, batch: Any, step: int) -> dict[str, float]: ...

    def ema_target(self) -> nn.Module | None:
        """The unwrapped module whose weights EMA tracks (None: no EMA possible)."""
        return None

    def ema_names(self) -> list[str] | None:
        """The state-dict entries of `ema_target()` the EMA averages (None: all of them)."""
        return None

    def sample(self, batch: Any, step: int) -> Samples:
        return Samples()

    def export(self, directory: Path, states: dict[str, dict[str, torch.Tensor]] | None = None) -> None:
        """Save the trained model for `from_pretrained` (the trainer swaps EMA weights in first).

        `states`: when the models are sharded (`train.fsdp`), their whole weights by model name,
        gathered by the trainer; write those instead of the sharded modules."""

    def effective(self) -> dict[str, Any]:
        """What actually runs when it differs from the config (recorded in config.json)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Extra state beyond models / optimisers / schedulers (tensors, numbers, lists, dicts only)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None
