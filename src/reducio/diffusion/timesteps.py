"""Timestep sampling for training."""

from __future__ import annotations

import torch


def _device(generator: torch.Generator | None, device: torch.device | str | None) -> torch.device:
    # Draw on the generator's device (a CUDA generator cannot fill a CPU tensor), then move.
    return generator.device if generator is not None else torch.device(device or "cpu")


def sample_discrete_timesteps(batch: int, num_train_timesteps: int, *,
                              generator: torch.Generator | None = None,
                              device: torch.device | str | None = None) -> torch.Tensor:
    """(batch,) int64 uniform in [0, num_train_timesteps): DDPM / PixArt training."""
    t = torch.randint(0, num_train_timesteps, (batch,), generator=generator,
                      device=_device(generator, device))
    return t.to(device or t.device)


def shift_sigmas(sigmas: torch.Tensor, shift: float) -> torch.Tensor:
    """sigma -> shift*sigma / (1 + (shift-1)*sigma), the rule diffusers' flow schedulers use."""
    if shift == 1.0:
        return sigmas
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def sample_flow_sigmas(batch: int, *, mode: str = "uniform", mean: float = 0.0, std: float = 1.0,
                       shift: float = 1.0, generator: torch.Generator | None = None,
                       device: torch.device | str | None = None) -> torch.Tensor:
    """(batch,) float32 sigmas in (0, 1) for rectified flow.

    mode "uniform": U(0, 1); "logit_normal": sigmoid(N(mean, std)) (SD3; favours mid noise levels).
    Then the shift, so training and sampling see the same sigma distribution family.
    """
    draw_device = _device(generator, device)
    if mode == "uniform":
        sigmas = torch.rand(batch, generator=generator, device=draw_device)
    elif mode == "logit_normal":
        sigmas = torch.sigmoid(mean + std * torch.randn(batch, generator=generator, device=draw_device))
    else:
        raise ValueError(f"unknown flow timestep sampling {mode!r}; valid: 'uniform', 'logit_normal'")
    return shift_sigmas(sigmas, shift).to(device or draw_device)
