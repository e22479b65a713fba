"""The posterior q(z | video): a diagonal Gaussian over the motion latent."""

from __future__ import annotations

import torch


class DiagonalGaussian:
    """N(mean, exp(logvar)) from `quant_conv` moments (B, 2C, t, h, w): first half mean, second
    half log-variance, clamped to [-30, 20] as in the release."""

    def __init__(self, moments: torch.Tensor) -> None:
        self.moments = moments
        self.mean, logvar = torch.chunk(moments, 2, dim=1)  # B C t h w each
        self.logvar = torch.clamp(logvar, -30.0, 20.0)

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.logvar)

    @property
    def var(self) -> torch.Tensor:
        return torch.exp(self.logvar)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """mean + std * eps; eps drawn on the generator's device (reproducible across devices)."""
        device = generator.device if generator is not None else self.mean.device
        eps = torch.randn(self.mean.shape, generator=generator, device=device,
                          dtype=self.mean.dtype)
        return self.mean + self.std * eps.to(self.mean.device)  # B C t h w

    def mode(self) -> torch.Tensor:
        return self.mean

    def kl(self) -> torch.Tensor:
        """KL(q || N(0, I)) per sample: 0.5 * sum over (C, t, h, w) of mean^2 + var - 1 - logvar."""
        dims = list(range(1, self.mean.ndim))
        return 0.5 * torch.sum(self.mean.pow(2) + self.var - 1.0 - self.logvar, dim=dims)  # B

    def __repr__(self) -> str:
        return f"DiagonalGaussian(shape={tuple(self.mean.shape)}, dtype={self.mean.dtype})"
