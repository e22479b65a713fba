import pytest
import torch
from diffusers import DDPMScheduler

from reducio.diffusion import (
    DiffusionConfig,
    EpsilonObjective,
    FlowObjective,
    make_objective,
    sample_flow_sigmas,
    shift_sigmas,
)
from reducio.errors import ConfigError


def test_default_is_the_papers_epsilon_objective():
    objective = make_objective()
    assert isinstance(objective, EpsilonObjective)
    assert objective.config.num_train_timesteps == 1000
    assert objective.config.beta_schedule == "linear"
    assert isinstance(make_objective(DiffusionConfig(objective="flow")), FlowObjective)


def test_epsilon_add_noise_matches_diffusers_ddpm():
    objective = make_objective()
    reference = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear",
                              beta_start=0.0001, beta_end=0.02)
    x0, noise = torch.randn(4, 16, 4, 2, 2), torch.randn(4, 16, 4, 2, 2)
    t = torch.tensor([0, 1, 500, 999])
    torch.testing.assert_close(objective.add_noise(x0, noise, t), reference.add_noise(x0, noise, t))
    torch.testing.assert_close(objective.alphas_cumprod.float(), reference.alphas_cumprod)


@pytest.mark.parametrize("kind", ["epsilon", "flow"])
def test_target_and_x0_recovery(kind):
    objective = make_objective(DiffusionConfig(objective=kind))
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(3, 16, 4, 2, 2, generator=g)
    batch = objective.prepare(x0, generator=g)
    if kind == "epsilon":
        assert torch.equal(batch.target, batch.noise)
        assert batch.timesteps.dtype == torch.int64
    else:
        torch.testing.assert_close(batch.target, batch.noise - x0)
        assert batch.timesteps.is_floating_point()
        assert ((batch.timesteps > 0) & (batch.timesteps < 1000)).all()
    recovered = objective.predict_x0(batch.noisy, batch.target, batch.timesteps)
    torch.testing.assert_close(recovered, x0, rtol=1e-3, atol=1e-3)
    assert objective.loss(batch.target, batch) == 0


def test_flow_path_is_straight_between_data_and_noise():
    objective = make_objective(DiffusionConfig(objective="flow"))
    x0, noise = torch.randn(2, 3, 1, 1, 1), torch.randn(2, 3, 1, 1, 1)
    torch.testing.assert_close(objective.add_noise(x0, noise, torch.zeros(2)), x0)
    torch.testing.assert_close(objective.add_noise(x0, noise, torch.full((2,), 1000.0)), noise)
    mid = objective.add_noise(x0, noise, torch.full((2,), 250.0))
    torch.testing.assert_close(mid, 0.75 * x0 + 0.25 * noise)


def test_timestep_sampling_is_seeded_and_in_range():
    objective = make_objective()
    a = objective.sample_timesteps(4096, generator=torch.Generator().manual_seed(3))
    b = objective.sample_timesteps(4096, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 999
    assert 400 < a.float().mean() < 600


def test_logit_normal_sigmas_concentrate_in_the_middle():
    g = torch.Generator().manual_seed(0)
    uniform = sample_flow_sigmas(20000, generator=g)
    logit = sample_flow_sigmas(20000, mode="logit_normal", generator=g)
    assert ((logit > 0) & (logit < 1)).all()
    assert logit.median() == pytest.approx(0.5, abs=0.02)
    middle = lambda s: ((s > 0.25) & (s < 0.75)).float().mean()  # noqa: E731
    assert middle(logit) > middle(uniform) + 0.1


def test_shift_moves_sigmas_towards_noise():
    sigmas = torch.linspace(0, 1, 11)
    shifted = shift_sigmas(sigmas, 3.0)
    assert shifted[0] == 0 and shifted[-1] == 1
    assert (shifted[1:-1] > sigmas[1:-1]).all()
    torch.testing.assert_close(shifted[5], torch.tensor(1.5 / 2.0))  # 3*0.5 / (1 + 2*0.5)


def test_config_validation_and_round_trip(tmp_path):
    with pytest.raises(ConfigError, match="logit_normal.*needs objective='flow'"):
        DiffusionConfig(timestep_sampling="logit_normal")
    with pytest.raises(ConfigError, match="text_drop_prob"):
        DiffusionConfig(text_drop_prob=1.5)
    with pytest.raises(ConfigError, match="valid keys"):
        DiffusionConfig.from_dict({"objectiv": "flow"})
    config = DiffusionConfig(objective="flow", timestep_sampling="logit_normal", flow_shift=3.0)
    config.to_json(tmp_path / "diffusion.json")
    assert DiffusionConfig.from_json(tmp_path / "diffusion.json") == config
    assert DiffusionConfig.for_prediction("flow").objective == "flow"


def test_flow_x_predicts_x0_and_hands_samplers_the_implied_velocity():
    from reducio.diffusion import DiffusionConfig, make_objective, make_scheduler

    objective = make_objective(DiffusionConfig(objective="flow_x"))
    torch.manual_seed(0)
    x0, noise = torch.randn(3, 4, 2, 2, 2), torch.randn(3, 4, 2, 2, 2)
    timesteps = torch.tensor([900.0, 500.0, 10.0])  # sigma 0.9, 0.5, 0.01 (clamped to 0.05)
    batch = objective.prepare(x0, noise=noise, timesteps=timesteps)
    # the exact x0 gives the exact velocity where sigma >= SIGMA_MIN, so zero loss there
    v = objective.scheduler_prediction(x0, batch.noisy, timesteps)
    assert torch.allclose(v[:2], (noise - x0)[:2], atol=1e-5)
    assert torch.allclose(v[2], (batch.noisy[2] - x0[2]) / 0.05, atol=1e-5)
    assert objective.loss(x0 + 0.1, batch) > objective.loss(x0, batch)
    assert torch.equal(objective.predict_x0(batch.noisy, x0, timesteps), x0)
    # one Euler step with the exact x0 lands on the straight path
    scheduler = make_scheduler(DiffusionConfig(objective="flow_x"))
    scheduler.set_timesteps(4)
    t0, t1 = scheduler.timesteps[0], scheduler.timesteps[1]
    s0, s1 = float(t0) / 1000, float(t1) / 1000
    x_t = (1 - s0) * x0 + s0 * noise
    step = scheduler.step(objective.scheduler_prediction(x0, x_t, t0), t0, x_t).prev_sample
    assert torch.allclose(step, (1 - s1) * x0 + s1 * noise, atol=1e-4)
