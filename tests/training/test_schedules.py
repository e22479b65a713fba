import pytest
import torch

from reducio.training.schedules import LambdaLinearScheduler, WarmupLR, lambda_scheduler


def test_lambda_linear_release_values():
    f = LambdaLinearScheduler()
    assert f(0) == 1.0
    assert f(500_000) == pytest.approx(0.505)
    assert f(1_000_000) == pytest.approx(0.01)
    assert f(2_000_000) == pytest.approx(0.01)
    warm = LambdaLinearScheduler(warm_up_steps=10, f_start=0.0, f_max=1.0, cycle_length=100)
    assert warm(5) == pytest.approx(0.5)


def test_warmup_release_values():
    f = WarmupLR()
    assert f(0) == f(4999) == 0.1
    assert f(5000) == pytest.approx(0.1 * (1 - 0.001) + 0.001)
    assert f(5499) == pytest.approx(0.1 * 0.5 + 0.5)
    assert f(5999) == pytest.approx(1.0)
    assert f(6000) == f(10**6) == 1.0


def test_scheduler_state_round_trips_with_weights_only(tmp_path):
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([param], lr=2e-5)
    sched = lambda_scheduler(opt, WarmupLR(warmup_start_iters=2, warmup_iters=2))
    for _ in range(3):
        opt.step()
        sched.step()
    torch.save(sched.state_dict(), tmp_path / "s.pt")
    opt2 = torch.optim.Adam([param], lr=2e-5)
    sched2 = lambda_scheduler(opt2, WarmupLR(warmup_start_iters=2, warmup_iters=2))
    sched2.load_state_dict(torch.load(tmp_path / "s.pt", weights_only=True))
    assert sched2.get_last_lr() == sched.get_last_lr()
    assert sched.get_last_lr()[0] == pytest.approx(2e-5 * 1.0)
