"""diffusers schedulers configured to sample what a `DiffusionConfig` trained.

    scheduler = make_scheduler(DiffusionConfig(), "dpm")
    scheduler.set_timesteps(20, device=device)
    latent = torch.randn(...) * init_noise_sigma(scheduler)
    for t in scheduler.timesteps:
        prediction = guided_prediction(dit, scale_model_input(scheduler, latent, t), t, ...)
        latent = scheduler.step(prediction, t, latent).prev_sample

Epsilon objective: "ddpm" (ancestral), "ddim" (eta 0, trailing spacing so the first step starts
at t = 999), "dpm" (DPM-Solver++ 2M, PixArt-alpha's sampler). Flow objective: "euler"
(FlowMatchEulerDiscreteScheduler) and "dpm" (DPM-Solver++ on flow sigmas). Every scheduler passes
the model the same timestep convention the objective trained with (t in 0..999, or sigma * 1000).
"""

from __future__ import annotations

from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    FlowMatchEulerDiscreteScheduler,
)
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from reducio.diffusion.config import DiffusionConfig
from reducio.errors import ConfigError

# "euler-stochastic": flow Euler that re-draws the noise at every step (diffusers'
# FlowMatchEulerDiscreteScheduler(stochastic_sampling=True): x_next = (1 - s_next) x0_hat + s_next
# noise). It forgets the previous step's errors; on the built-in stage 1 it drew the prompt's shape
# more often than the deterministic ODE (docs/generate.md).
SAMPLERS = {"epsilon": ("dpm", "ddim", "ddpm"), "flow": ("euler", "euler-stochastic", "dpm"),
            "flow_x": ("euler", "euler-stochastic", "dpm")}
DEFAULT_SAMPLER = {"epsilon": "dpm", "flow": "euler", "flow_x": "euler"}
# PixArt-alpha samples with 20 DPM-Solver steps; DDIM and flow Euler want more.
DEFAULT_STEPS = {"dpm": 20, "ddim": 50, "ddpm": 1000, "euler": 50, "euler-stochastic": 50}


def make_scheduler(config: DiffusionConfig | None = None,
                   sampler: str | None = None) -> SchedulerMixin:
    """A fresh diffusers scheduler for `config` (default: epsilon + DPM-Solver++)."""
    config = config if config is not None else DiffusionConfig()
    objective = config.objective
    sampler = sampler or DEFAULT_SAMPLER[objective]
    if sampler not in SAMPLERS[objective]:
        raise ConfigError(f"sampler {sampler!r} does not fit the {objective!r} objective; "
                          f"valid: {SAMPLERS[objective]}")
    n = config.num_train_timesteps
    if objective == "epsilon":
        betas = dict(num_train_timesteps=n, beta_schedule=config.beta_schedule,
                     beta_start=config.beta_start, beta_end=config.beta_end,
                     prediction_type="epsilon")
        if sampler == "ddpm":
            return DDPMScheduler(**betas, clip_sample=False, variance_type="fixed_small")
        if sampler == "ddim":
            return DDIMScheduler(**betas, clip_sample=False, set_alpha_to_one=True,
                                 timestep_spacing="trailing")
        return DPMSolverMultistepScheduler(**betas, algorithm_type="dpmsolver++", solver_order=2)
    if sampler in ("euler", "euler-stochastic"):
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=n, shift=config.flow_shift,
                                               stochastic_sampling=sampler == "euler-stochastic")
    return DPMSolverMultistepScheduler(num_train_timesteps=n, prediction_type="flow_prediction",
                                       use_flow_sigmas=True, flow_shift=config.flow_shift,
                                       algorithm_type="dpmsolver++", solver_order=2)


def sampler_name(scheduler: SchedulerMixin) -> str:
    """The `make_scheduler` sampler name a scheduler was built as (its inverse, for a scheduler
    read back from a saved pipeline)."""
    config = scheduler.config
    if isinstance(scheduler, FlowMatchEulerDiscreteScheduler):
        return "euler-stochastic" if config.get("stochastic_sampling") else "euler"
    names = {DDPMScheduler: "ddpm", DDIMScheduler: "ddim", DPMSolverMultistepScheduler: "dpm"}
    for cls, name in names.items():
        if isinstance(scheduler, cls):
            return name
    raise ConfigError(f"{type(scheduler).__name__} is not a scheduler reducio samples with; "
                      f"valid: {[c.__name__ for c in names] + ['FlowMatchEulerDiscreteScheduler']}")


def init_noise_sigma(scheduler: SchedulerMixin) -> float:
    """Std of the starting noise (1 for every scheduler here; flow schedulers lack the attribute)."""
    return float(getattr(scheduler, "init_noise_sigma", 1.0))


def scale_model_input(scheduler: SchedulerMixin, latent, timestep):
    """`scheduler.scale_model_input` where it exists (identity for the schedulers used here)."""
    scale = getattr(scheduler, "scale_model_input", None)
    return latent if scale is None else scale(latent, timestep)
