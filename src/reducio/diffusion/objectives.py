"""Training objectives: noising a clean latent, the regression target and the loss.

    batch = objective.prepare(latent, generator=g)          # noisy latent, model timesteps, target
    prediction = dit(batch.noisy, batch.timesteps, text=..., drop_text=..., ...)
    loss = objective.loss(prediction, batch)

Epsilon (the paper's): x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, target eps, t in {0..999}.
Flow (rectified flow): x_s = (1 - s) x0 + s eps, target v = eps - x0, model timestep s * 1000.
Both conventions are those of diffusers' schedulers, so `make_scheduler` samples what was trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from reducio.diffusion.config import DiffusionConfig
from reducio.diffusion.timesteps import sample_discrete_timesteps, sample_flow_sigmas


@dataclass(frozen=True)
class NoisyBatch:
    """What one training step feeds the model and compares against."""

    noisy: torch.Tensor       # B C t h w
    timesteps: torch.Tensor   # B, the model's timestep input
    target: torch.Tensor      # B C t h w
    noise: torch.Tensor       # B C t h w


def _broadcast(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B,) -> (B, 1, 1, ...) matching like.ndim, float32 on like's device."""
    return values.to(device=like.device, dtype=torch.float32).reshape(-1, *([1] * (like.ndim - 1)))


def _noise_like(latent: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    device = generator.device if generator is not None else latent.device
    noise = torch.randn(latent.shape, generator=generator, device=device, dtype=torch.float32)
    return noise.to(latent.device)


def betas_for(config: DiffusionConfig) -> torch.Tensor:
    """The DDPM betas (float64), as diffusers' DDPM/DDIM/DPM schedulers build them."""
    n = config.num_train_timesteps
    if config.beta_schedule == "linear":
        return torch.linspace(config.beta_start, config.beta_end, n, dtype=torch.float64)
    return torch.linspace(config.beta_start**0.5, config.beta_end**0.5, n, dtype=torch.float64) ** 2


class DiffusionObjective:
    """Base: `prepare` a noisy batch, compute the `loss`, recover x0 from a prediction."""

    def __init__(self, config: DiffusionConfig) -> None:
        self.config = config

    def sample_timesteps(self, batch: int, *, generator: torch.Generator | None = None,
                         device: torch.device | str | None = None) -> torch.Tensor:
        raise NotImplementedError

    def add_noise(self, latent: torch.Tensor, noise: torch.Tensor,
                  timesteps: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def target(self, latent: torch.Tensor, noise: torch.Tensor,
               timesteps: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def predict_x0(self, noisy: torch.Tensor, prediction: torch.Tensor,
                   timesteps: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def prepare(self, latent: torch.Tensor, *, generator: torch.Generator | None = None,
                noise: torch.Tensor | None = None,
                timesteps: torch.Tensor | None = None) -> NoisyBatch:
        """latent: (B, C, t, h, w) clean (layer-normed) latent -> NoisyBatch (float32 tensors)."""
        latent = latent.float()
        noise = _noise_like(latent, generator) if noise is None else noise.float()
        if timesteps is None:
            timesteps = self.sample_timesteps(latent.shape[0], generator=generator,
                                              device=latent.device)
        return NoisyBatch(self.add_noise(latent, noise, timesteps), timesteps,
                          self.target(latent, noise, timesteps), noise)

    def loss(self, prediction: torch.Tensor, batch: NoisyBatch) -> torch.Tensor:
        """Mean squared error over all elements, in float32 (learned sigma is off: no VLB term)."""
        return F.mse_loss(prediction.float(), batch.target)

    def scheduler_prediction(self, prediction: torch.Tensor, noisy: torch.Tensor,
                             timesteps: torch.Tensor) -> torch.Tensor:
        """The network output as the sampler expects it (epsilon or velocity): the output itself,
        except for x0-predicting objectives."""
        return prediction


class EpsilonObjective(DiffusionObjective):
    """DDPM noise prediction on the configured beta schedule (the paper's objective)."""

    def __init__(self, config: DiffusionConfig) -> None:
        super().__init__(config)
        self.alphas_cumprod = torch.cumprod(1.0 - betas_for(config), dim=0)      # float64 (N,)

    def sample_timesteps(self, batch, *, generator=None, device=None) -> torch.Tensor:
        return sample_discrete_timesteps(batch, self.config.num_train_timesteps,
                                         generator=generator, device=device)

    def _abar(self, timesteps: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return _broadcast(self.alphas_cumprod[timesteps.long().cpu()], like)

    def add_noise(self, latent, noise, timesteps) -> torch.Tensor:
        abar = self._abar(timesteps, latent)
        return abar.sqrt() * latent + (1 - abar).sqrt() * noise

    def target(self, latent, noise, timesteps) -> torch.Tensor:
        return noise

    def predict_x0(self, noisy, prediction, timesteps) -> torch.Tensor:
        abar = self._abar(timesteps, noisy)
        return (noisy.float() - (1 - abar).sqrt() * prediction.float()) / abar.sqrt()


class FlowObjective(DiffusionObjective):
    """Rectified flow: straight path from data (sigma 0) to noise (sigma 1), velocity target."""

    def sample_timesteps(self, batch, *, generator=None, device=None) -> torch.Tensor:
        """Model timesteps sigma * num_train_timesteps (float32), sigma from the configured law."""
        c = self.config
        sigmas = sample_flow_sigmas(batch, mode=c.timestep_sampling, mean=c.logit_normal_mean,
                                    std=c.logit_normal_std, shift=c.flow_shift,
                                    generator=generator, device=device)
        return sigmas * c.num_train_timesteps

    def sigmas(self, timesteps: torch.Tensor) -> torch.Tensor:
        return timesteps.float() / self.config.num_train_timesteps

    def add_noise(self, latent, noise, timesteps) -> torch.Tensor:
        sigma = _broadcast(self.sigmas(timesteps), latent)
        return (1 - sigma) * latent + sigma * noise

    def target(self, latent, noise, timesteps) -> torch.Tensor:
        return noise - latent

    def predict_x0(self, noisy, prediction, timesteps) -> torch.Tensor:
        sigma = _broadcast(self.sigmas(timesteps), noisy)
        return noisy.float() - sigma * prediction.float()


class FlowXObjective(FlowObjective):
    """Rectified flow with x0 prediction (JiT): the network outputs x0_hat; the loss compares the
    implied velocity (x_s - x0_hat) / max(s, SIGMA_MIN) with eps - x0, and samplers receive that
    velocity. Same noising and timesteps as FlowObjective."""

    SIGMA_MIN = 0.05

    def _velocity(self, x0_hat: torch.Tensor, noisy: torch.Tensor,
                  timesteps: torch.Tensor) -> torch.Tensor:
        sigma = _broadcast(self.sigmas(timesteps), noisy).clamp(min=self.SIGMA_MIN)
        return (noisy.float() - x0_hat.float()) / sigma

    def loss(self, prediction: torch.Tensor, batch: NoisyBatch) -> torch.Tensor:
        return F.mse_loss(self._velocity(prediction, batch.noisy, batch.timesteps), batch.target)

    def predict_x0(self, noisy, prediction, timesteps) -> torch.Tensor:
        return prediction.float()

    def scheduler_prediction(self, prediction, noisy, timesteps) -> torch.Tensor:
        t = torch.as_tensor(timesteps, device=noisy.device).reshape(-1).expand(noisy.shape[0])
        return self._velocity(prediction, noisy, t)


def make_objective(config: DiffusionConfig | None = None) -> DiffusionObjective:
    """The objective of `config.objective` (default: the paper's epsilon)."""
    config = config if config is not None else DiffusionConfig()
    kinds = {"epsilon": EpsilonObjective, "flow": FlowObjective, "flow_x": FlowXObjective}
    return kinds[config.objective](config)
