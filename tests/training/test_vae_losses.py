import math

import pytest
import torch

from reducio.errors import ShapeError
from reducio.training.vae_losses import (
    adaptive_weight,
    disc_active,
    hinge_d_loss,
    kl_loss,
    outlier_penalty,
    perceptual_per_frame,
    reconstruction_error,
    ssim_loss,
    window_content_frames,
)
from training_toys import ToyGaussian


def test_outlier_penalty_matches_a_hand_computation():
    g = torch.Generator().manual_seed(0)
    recon = torch.randn(2, 3, 2, 5, 5, generator=g)
    recon[0, 1, 1, 2, 3] = 9.0  # one bright outlier
    total, count = 0.0, 0
    for b in range(2):
        for c in range(3):
            for t in range(2):
                plane = recon[b, c, t].flatten().tolist()
                m = sum(plane) / len(plane)
                s = math.sqrt(sum((v - m) ** 2 for v in plane) / (len(plane) - 1))  # unbiased, like torch.std
                total += sum(max(0.0, v - m - 3.0 * s) for v in plane)
                count += len(plane)
    assert outlier_penalty(recon, 3.0).item() == pytest.approx(total / count, rel=1e-5)
    assert total > 0  # the outlier is penalised
    assert outlier_penalty(-recon.abs() * 0 - 1, 3.0).item() == 0.0  # a flat frame has nothing above mean + 3 std


def test_kl_is_summed_per_sample_then_averaged_over_the_batch():
    mean = torch.tensor([0.5, -1.0]).reshape(2, 1, 1, 1, 1).expand(2, 2, 2, 3, 3).contiguous()
    logvar = torch.zeros_like(mean)
    dist = ToyGaussian(torch.cat([mean, logvar], dim=1))
    per_element = 0.5 * mean.square()  # var 1, logvar 0
    expected = per_element.flatten(1).sum(1).mean()
    assert kl_loss(dist).item() == pytest.approx(expected.item())
    assert kl_loss(dist).item() == pytest.approx(0.5 * (0.25 + 1.0) / 2 * 2 * 2 * 3 * 3)


def test_hinge_discriminator_loss():
    real = torch.tensor([2.0, 0.5, -1.0])
    fake = torch.tensor([-2.0, 0.0, 1.0])
    # relu(1 - real) = [0, .5, 2] -> mean 5/6; relu(1 + fake) = [0, 1, 2] -> mean 1
    assert hinge_d_loss(real, fake).item() == pytest.approx(0.5 * (5 / 6 + 1.0))


def test_adaptive_weight_formula_on_a_tiny_graph():
    weight = torch.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
    a = torch.tensor([[3.0, 0.0], [0.0, 4.0]])  # d nll / d W
    b = torch.tensor([[0.0, 1.0], [0.0, 0.0]])  # d g / d W
    nll = (weight * a).sum()
    g_loss = (weight * b).sum()
    d_w = adaptive_weight(nll, g_loss, weight, disc_weight=0.05)
    assert d_w.item() == pytest.approx(5.0 / (1.0 + 1e-4) * 0.05)
    assert not d_w.requires_grad
    # clamped at 1e4 before the disc_weight factor
    tiny_g = (weight * b * 1e-9).sum()
    assert adaptive_weight((weight * a).sum(), tiny_g, weight, 0.05).item() == pytest.approx(1e4 * 0.05)


def test_disc_start_units():
    # Lightning counted two optimiser steps per iteration: global_step 2*i for the generator, 2*i+1 for D.
    assert not disc_active(5000, 10001, "lightning_global_step", discriminator=False)
    assert disc_active(5001, 10001, "lightning_global_step", discriminator=False)
    assert not disc_active(4999, 10001, "lightning_global_step", discriminator=True)
    assert disc_active(5000, 10001, "lightning_global_step", discriminator=True)
    assert not disc_active(10000, 10001, "iteration", discriminator=False)
    assert disc_active(10001, 10001, "iteration", discriminator=True)


def test_motion_weight_emphasises_pixels_that_differ_from_the_content_frame():
    target = torch.zeros(1, 3, 3, 2, 2)
    target[:, :, 0, 0, 0] = 1.0  # frame 0 differs from the content frame (index 1) at one pixel
    recon = torch.full_like(target, 0.5)
    plain = reconstruction_error(target, recon, "l1", 0.0, window=3)
    weighted = reconstruction_error(target, recon, "l1", 4.0, window=3)
    assert torch.equal(weighted[:, :, 1], plain[:, :, 1])  # the content frame itself is not reweighted
    assert weighted[0, 0, 0, 0, 0].item() == pytest.approx(plain[0, 0, 0, 0, 0].item() * (1 + 4 * 1.0))
    assert weighted[0, 0, 0, 1, 1].item() == plain[0, 0, 0, 1, 1].item()
    assert reconstruction_error(target, recon, "mse", window=3)[0, 0, 1, 0, 0].item() == pytest.approx(0.25)


def _two_windows() -> torch.Tensor:
    """A 32-frame clip (1 3 32 2 2) whose frame t has the value t: windows of 16 are told apart."""
    return torch.arange(32.0).reshape(1, 1, 32, 1, 1).expand(1, 3, 32, 2, 2).contiguous()


def test_each_window_of_a_long_clip_has_its_own_content_frame():
    content = window_content_frames(_two_windows(), 16)
    assert content.shape == (1, 3, 32, 2, 2)
    assert content[0, 0, :16, 0, 0].tolist() == [7.0] * 16  # window 0: frame 7
    assert content[0, 0, 16:, 0, 0].tolist() == [23.0] * 16  # window 1: frame 23, not the clip's 15


def test_motion_weight_of_a_32_frame_clip_uses_frames_7_and_23():
    target = _two_windows()
    target[:, :, 16:24] = 23.0  # window 1 holds still up to its content frame 23
    recon = torch.zeros_like(target)
    plain = reconstruction_error(target, recon, "l1", 0.0, window=16)
    weighted = reconstruction_error(target, recon, "l1", 1.0, window=16)
    # frames equal to their window's content frame are not reweighted: 7 in window 0, 16..23 in
    # window 1 (weighing by the clip's frame 15 would reweight all of them by 1 + 8 and more)
    for frame in [7, *range(16, 24)]:
        assert torch.equal(weighted[:, :, frame], plain[:, :, frame]), frame
    # frame 31 is 8 away from frame 23 (and 16 away from frame 15)
    assert weighted[0, 0, 31, 0, 0].item() == pytest.approx(31.0 * (1 + 8.0))
    assert weighted[0, 0, 0, 0, 0].item() == 0.0  # frame 0 is 0 and so is its reconstruction


def test_a_clip_of_partial_windows_is_refused():
    with pytest.raises(ShapeError, match="whole number of 16-frame windows"):
        reconstruction_error(torch.zeros(1, 3, 24, 2, 2), torch.zeros(1, 3, 24, 2, 2), "l1", 1.0, window=16)


def test_perceptual_term_is_per_frame_on_all_frames():
    calls = {}

    def fake_lpips(x, y):
        calls["shape"] = tuple(x.shape)
        return (x - y).abs().mean(dim=(1, 2, 3))  # one distance per image

    target = torch.zeros(2, 3, 4, 8, 8)
    recon = target.clone()
    recon[1, :, 2] = 1.0
    p = perceptual_per_frame(fake_lpips, target, recon)
    assert calls["shape"] == (8, 3, 8, 8)  # B*T frames
    assert p.shape == (2, 1, 4, 1, 1)
    assert p[1, 0, 2].item() == 1.0 and p.sum().item() == 1.0


def test_ssim_loss_is_one_minus_the_metric_and_has_gradients():
    from reducio.eval import ssim

    generator = torch.Generator().manual_seed(0)
    target = torch.rand(2, 3, 4, 16, 16, generator=generator) * 2 - 1
    recon = (target + 0.3 * torch.randn(target.shape, generator=generator)).requires_grad_(True)
    loss = ssim_loss(target, recon)
    assert loss.item() == pytest.approx(1.0 - ssim(target, recon.detach()).mean().item(), abs=1e-6)
    loss.backward()
    assert recon.grad is not None and recon.grad.abs().sum() > 0
    inside = recon.detach().abs() < 1  # clamped pixels get no gradient from this term
    assert torch.all(recon.grad[~inside] == 0) and recon.grad[inside].abs().sum() > 0
    assert ssim_loss(target, target.clone()).item() == pytest.approx(0.0, abs=1e-6)


def test_ssim_loss_punishes_a_faint_ripple_on_a_flat_background_more_than_mse_does():
    target = -torch.ones(1, 3, 2, 32, 32)  # black
    ripple = target + 0.04 * torch.sin(torch.arange(32.0)).view(1, 1, 1, 1, 32).abs()
    edge = target.clone()
    edge[..., 10:20, 10:20] = 1.0
    blurred_edge = edge.clone()
    blurred_edge[..., 10, 10:20] = 0.0  # one row of the square half-bright
    mse_ripple = (ripple - target).square().mean()
    mse_edge = (blurred_edge - edge).square().mean()
    assert mse_ripple < mse_edge  # MSE says the ripple is the smaller error ...
    assert ssim_loss(target, ripple) > ssim_loss(edge, blurred_edge)  # ... SSIM says the opposite
