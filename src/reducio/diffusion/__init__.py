"""Diffusion for Reducio-DiT: objectives (epsilon / rectified flow), timestep sampling, diffusers
scheduler factory and classifier-free guidance."""

from reducio.diffusion.config import DiffusionConfig
from reducio.diffusion.guidance import combine_guidance, guided_prediction, sample_condition_drop
from reducio.diffusion.objectives import (
    DiffusionObjective,
    EpsilonObjective,
    FlowObjective,
    NoisyBatch,
    make_objective,
)
from reducio.diffusion.schedulers import (
    DEFAULT_STEPS,
    SAMPLERS,
    init_noise_sigma,
    make_scheduler,
    sampler_name,
    scale_model_input,
)
from reducio.diffusion.timesteps import sample_discrete_timesteps, sample_flow_sigmas, shift_sigmas

__all__ = [
    "DEFAULT_STEPS",
    "DiffusionConfig",
    "DiffusionObjective",
    "EpsilonObjective",
    "FlowObjective",
    "NoisyBatch",
    "SAMPLERS",
    "combine_guidance",
    "guided_prediction",
    "init_noise_sigma",
    "make_objective",
    "make_scheduler",
    "sample_condition_drop",
    "sample_discrete_timesteps",
    "sample_flow_sigmas",
    "sampler_name",
    "scale_model_input",
    "shift_sigmas",
]
