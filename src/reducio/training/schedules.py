"""Learning-rate multipliers of the release (ldm/lr_scheduler.py), as LambdaLR lambdas.

Both are stepped once per iteration (one generator + one discriminator update), like the
release's manual `scheduler.step()` calls; they are *not* prepared by accelerate, which would
step them once per process.
"""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


class LambdaLinearScheduler:
    """f(n): linear warm-up f_start -> f_max over `warm_up_steps`, then linear f_max -> f_min at n = cycle_length.

    Release values (warm_up_steps 0, cycle 1e6, f_max 1, f_min 0.01): f(n) = 0.01 + 0.99 (1e6 - n) / 1e6.
    Past the cycle the release raises (its cycle lookup returns None); we hold f_min.
    """

    def __init__(self, *, warm_up_steps: int = 0, cycle_length: int = 1_000_000, f_start: float = 1.0,
                 f_max: float = 1.0, f_min: float = 0.01) -> None:
        self.warm_up_steps = warm_up_steps
        self.cycle_length = cycle_length
        self.f_start = f_start
        self.f_max = f_max
        self.f_min = f_min

    def __call__(self, n: int) -> float:
        if n < self.warm_up_steps:
            return (self.f_max - self.f_start) / self.warm_up_steps * n + self.f_start
        if n > self.cycle_length:
            return self.f_min
        return self.f_min + (self.f_max - self.f_min) * (self.cycle_length - n) / self.cycle_length


class WarmupLR:
    """f(n) = factor for n < start; linear factor -> 1 over `iters` iterations; then 1 (release WarmupLR)."""

    def __init__(self, *, warmup_factor: float = 0.1, warmup_start_iters: int = 5000, warmup_iters: int = 1000) -> None:
        self.warmup_factor = warmup_factor
        self.warmup_start_iters = warmup_start_iters
        self.warmup_iters = warmup_iters

    def __call__(self, n: int) -> float:
        if n < self.warmup_start_iters:
            return self.warmup_factor
        if n < self.warmup_start_iters + self.warmup_iters:
            # The release adds 1: the first warm-up iteration already moves off the floor.
            alpha = float(n - self.warmup_start_iters + 1) / self.warmup_iters
            return self.warmup_factor * (1 - alpha) + alpha
        return 1.0


class Constant:
    def __call__(self, n: int) -> float:
        return 1.0


def lambda_scheduler(optimizer: Optimizer, multiplier) -> LambdaLR:
    """LambdaLR whose state_dict holds the multiplier's plain attributes (loadable with weights_only)."""
    return LambdaLR(optimizer, lr_lambda=multiplier)


class WarmupConstant:
    """LR factor min(1, (n + 1) / warmup): linear warm-up, then constant (PixArt); no zero-lr step."""

    def __init__(self, warmup_steps: int) -> None:
        self.warmup_steps = warmup_steps

    def __call__(self, n: int) -> float:
        return 1.0 if self.warmup_steps <= 0 else min(1.0, (n + 1) / self.warmup_steps)
