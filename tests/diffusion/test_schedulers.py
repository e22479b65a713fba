import pytest
import torch

from reducio.diffusion import (
    DiffusionConfig,
    init_noise_sigma,
    make_objective,
    make_scheduler,
    scale_model_input,
)
from reducio.errors import ConfigError

EPS = DiffusionConfig()
FLOW = DiffusionConfig(objective="flow")


def test_ddim_eta0_step_is_the_closed_form():
    scheduler = make_scheduler(EPS, "ddim")
    scheduler.set_timesteps(50)
    abar = make_objective(EPS).alphas_cumprod
    g = torch.Generator().manual_seed(0)
    x_t, eps = torch.randn(2, 16, 4, 2, 2, generator=g), torch.randn(2, 16, 4, 2, 2, generator=g)
    t, t_prev = int(scheduler.timesteps[10]), int(scheduler.timesteps[11])
    out = scheduler.step(eps, t, x_t, eta=0.0).prev_sample
    a_t, a_prev = abar[t].float(), abar[t_prev].float()
    x0 = (x_t - (1 - a_t).sqrt() * eps) / a_t.sqrt()
    expected = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert int(scheduler.timesteps[0]) == 999  # trailing spacing starts from pure noise


def test_flow_euler_step_is_x_plus_dsigma_v():
    scheduler = make_scheduler(FLOW, "euler")
    scheduler.set_timesteps(10)
    x, v = torch.randn(1, 16, 4, 2, 2), torch.randn(1, 16, 4, 2, 2)
    t = scheduler.timesteps[3]
    sigma, sigma_next = scheduler.sigmas[3], scheduler.sigmas[4]
    out = scheduler.step(v, t, x).prev_sample
    torch.testing.assert_close(out, x + (sigma_next - sigma) * v)
    # the model timestep is sigma * 1000, the FlowObjective's convention
    torch.testing.assert_close(scheduler.timesteps, scheduler.sigmas[:-1] * 1000)


def test_stochastic_flow_euler_step_renoises_the_x0_estimate():
    """x_next = (1 - sigma_next) x0_hat + sigma_next * fresh noise, x0_hat = x - sigma v."""
    scheduler = make_scheduler(FLOW, "euler-stochastic")
    scheduler.set_timesteps(10)
    x, v = torch.randn(1, 16, 4, 2, 2), torch.randn(1, 16, 4, 2, 2)
    t = scheduler.timesteps[3]
    sigma, sigma_next = scheduler.sigmas[3], scheduler.sigmas[4]
    out = scheduler.step(v, t, x, generator=torch.Generator().manual_seed(5)).prev_sample
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(out, (1 - sigma_next) * (x - sigma * v) + sigma_next * noise)


def test_flow_dpm_uses_the_same_timestep_convention():
    scheduler = make_scheduler(DiffusionConfig(objective="flow", flow_shift=3.0), "dpm")
    scheduler.set_timesteps(8)
    torch.testing.assert_close(scheduler.timesteps.float(), scheduler.sigmas[:-1] * 1000,
                               rtol=0, atol=1.0)  # diffusers rounds DPM timesteps


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "dpm"])
def test_epsilon_schedulers_share_the_training_betas(sampler):
    scheduler = make_scheduler(EPS, sampler)
    torch.testing.assert_close(scheduler.alphas_cumprod, make_objective(EPS).alphas_cumprod.float())
    assert scheduler.config.prediction_type == "epsilon"


def _oracle(objective, x0):
    """The exact prediction for a data distribution concentrated on x0."""
    def predict(x_t, t):
        t = torch.as_tensor(t).reshape(1)
        if objective.config.objective == "epsilon":
            abar = objective.alphas_cumprod[t.long()].float()
            return (x_t - abar.sqrt() * x0) / (1 - abar).sqrt()
        sigma = objective.sigmas(t)
        return (x_t - x0) / sigma
    return predict


@pytest.mark.parametrize("config,sampler,steps", [(EPS, "ddim", 20), (EPS, "dpm", 20),
                                                  (EPS, "ddpm", 100), (FLOW, "euler", 20),
                                                  (FLOW, "euler-stochastic", 20), (FLOW, "dpm", 20)])
def test_sampling_with_the_exact_model_recovers_the_data(config, sampler, steps):
    """If the scheduler fed the model another timestep convention than the objective trained
    with, the oracle would be evaluated at the wrong noise level and miss x0."""
    objective = make_objective(config)
    x0 = torch.randn(1, 16, 4, 2, 2, generator=torch.Generator().manual_seed(0))
    predict = _oracle(objective, x0)
    scheduler = make_scheduler(config, sampler)
    scheduler.set_timesteps(steps)
    g = torch.Generator().manual_seed(1)
    latent = torch.randn(x0.shape, generator=g) * init_noise_sigma(scheduler)
    for t in scheduler.timesteps:
        model_input = scale_model_input(scheduler, latent, t)
        latent = scheduler.step(predict(model_input, t), t, latent, generator=g).prev_sample
    torch.testing.assert_close(latent, x0, rtol=0, atol=0.02)


def test_sampler_must_fit_the_objective():
    with pytest.raises(ConfigError, match="does not fit the 'flow' objective"):
        make_scheduler(FLOW, "ddim")
    with pytest.raises(ConfigError, match="valid"):
        make_scheduler(EPS, "euler")
