"""The diffusion process of Reducio-DiT: objective, noise schedule, timestep sampling, CFG dropout.

Defaults are the paper's setting: epsilon prediction [paper] on PixArt-alpha's schedule (DDPM, 1000
steps, linear betas 1e-4 .. 0.02, learned sigma off) with uniform timesteps, and 10 % condition
dropout for classifier-free guidance (PixArt's caption dropout rate, applied to text and image
independently; the image rate is our decision). `objective="flow"` switches to rectified flow
(velocity = noise - x0), which the authors list as a compatible speed-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reducio.errors import ConfigError
from reducio.configs import Config, check_types


@dataclass(frozen=True, kw_only=True)
class DiffusionConfig(Config):
    """Training objective and schedule; `make_scheduler` builds the matching sampler from it.

    - `objective`: "epsilon" (DDPM noise prediction), "flow" (rectified flow, velocity) or
      "flow_x" (rectified flow, the network predicts the clean sample x0 and the loss is taken
      on the implied velocity, as in JiT, "Back to Basics: Let Denoising Generative Models
      Denoise", 2025: pixel-space models with large patches cannot reproduce the noise a
      velocity target contains, but can predict the clean image).
    - `num_train_timesteps`: discrete steps of the DDPM chain; for flow, the factor that maps
      sigma in [0, 1] to the model's timestep input (sigma * 1000, diffusers' convention).
    - `beta_schedule`, `beta_start`, `beta_end`: the DDPM betas (epsilon only).
    - `timestep_sampling`: "uniform" or "logit_normal" (flow only: sigma = sigmoid(N(mean, std))).
    - `flow_shift`: sigma -> shift*sigma / (1 + (shift-1)*sigma) in training and sampling (flow only;
      > 1 spends more steps at high noise, SD3's resolution shift).
    - `text_drop_prob`, `image_drop_prob`: per-sample probabilities of replacing the text / the image
      condition by the DiT's null token during training (independent draws).
    """

    objective: Literal["epsilon", "flow", "flow_x"] = "epsilon"
    num_train_timesteps: int = 1000
    beta_schedule: Literal["linear", "scaled_linear"] = "linear"
    beta_start: float = 0.0001
    beta_end: float = 0.02
    timestep_sampling: Literal["uniform", "logit_normal"] = "uniform"
    logit_normal_mean: float = 0.0
    logit_normal_std: float = 1.0
    flow_shift: float = 1.0
    text_drop_prob: float = 0.1
    image_drop_prob: float = 0.1

    def __post_init__(self) -> None:
        check_types(self)
        errors = []
        if self.objective not in ("epsilon", "flow", "flow_x"):
            errors.append(f"objective must be 'epsilon', 'flow' or 'flow_x', got {self.objective!r}")
        if self.num_train_timesteps < 1:
            errors.append(f"num_train_timesteps must be >= 1, got {self.num_train_timesteps}")
        if not 0 < self.beta_start < self.beta_end < 1:
            errors.append(f"need 0 < beta_start < beta_end < 1, got {self.beta_start}, {self.beta_end}")
        if self.timestep_sampling == "logit_normal" and self.objective == "epsilon":
            errors.append("timestep_sampling='logit_normal' needs objective='flow' or 'flow_x'; use "
                          "'uniform' for epsilon")
        if self.logit_normal_std <= 0:
            errors.append(f"logit_normal_std must be > 0, got {self.logit_normal_std}")
        if self.flow_shift <= 0:
            errors.append(f"flow_shift must be > 0, got {self.flow_shift}")
        for name in ("text_drop_prob", "image_drop_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                errors.append(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if errors:
            raise ConfigError("invalid DiffusionConfig: " + "; ".join(errors))

    @classmethod
    def for_prediction(cls, prediction_type: str, **overrides) -> DiffusionConfig:
        """The default process for a DiT's `config.prediction_type` ("epsilon", "flow", "flow_x")."""
        if prediction_type == "epsilon":
            return cls(objective="epsilon", **overrides)
        if prediction_type in ("flow", "flow_x"):
            return cls(objective=prediction_type, **overrides)
        raise ConfigError(f"unknown prediction_type {prediction_type!r}; valid: 'epsilon', 'flow', 'flow_x'")
