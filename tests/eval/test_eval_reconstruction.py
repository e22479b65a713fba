"""PSNR / SSIM against hand-computed values and scikit-image."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reducio.errors import ShapeError
from reducio.eval import psnr, ssim
from reducio.eval.reconstruction import ssim_downscale_factor

skimage_metrics = pytest.importorskip("skimage.metrics")


def _random_pair(shape, seed, noise=0.2):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(shape, generator=g) * 2 - 1
    b = (a + noise * torch.randn(shape, generator=g)).clamp(-1, 1)
    return a, b


def _smooth_pair(shape, seed):
    """Low-frequency images (blurred noise) with a small smooth distortion."""
    g = torch.Generator().manual_seed(seed)
    b_, c, t, h, w = shape
    noise = torch.randn(b_ * c * t, 1, h, w, generator=g)
    kernel = torch.ones(1, 1, 9, 9) / 81
    smooth = F.conv2d(F.pad(noise, (4, 4, 4, 4), mode="reflect"), kernel)
    smooth = F.conv2d(F.pad(smooth, (4, 4, 4, 4), mode="reflect"), kernel)
    a = (smooth / smooth.abs().max()).view(shape) * 0.9
    b = (a + 0.05 * torch.sin(torch.linspace(0, 6, w)).view(1, 1, 1, 1, w)).clamp(-1, 1)
    return a, b


def _skimage_scores(a: torch.Tensor, b: torch.Tensor, release_epsilon: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per clip: mean over frames of skimage PSNR and SSIM on [0, 1] images."""
    x = ((a.double() + 1) / 2).numpy()
    y = ((b.double() + 1) / 2).numpy()
    psnrs, ssims = [], []
    for i in range(x.shape[0]):
        p, s = [], []
        for t in range(x.shape[2]):
            fx, fy = x[i, :, t].transpose(1, 2, 0), y[i, :, t].transpose(1, 2, 0)
            value = skimage_metrics.peak_signal_noise_ratio(fx, fy, data_range=1)
            p.append(_with_release_epsilon(value) if release_epsilon else value)
            s.append(
                skimage_metrics.structural_similarity(
                    fx, fy, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                    data_range=1, channel_axis=-1,
                )
            )
        psnrs.append(np.mean(p))
        ssims.append(np.mean(s))
    return np.array(psnrs), np.array(ssims)


def _with_release_epsilon(skimage_psnr: np.ndarray) -> np.ndarray:
    """One frame's skimage 10 log10(1 / mse) turned into the release's -10 log10(mse + 1e-8).
    At 35 dB the epsilon alone moves PSNR by 1.4e-4 dB."""
    mse = 10 ** (-np.asarray(skimage_psnr) / 10)
    return -10 * np.log10(mse + 1e-8)


def test_identical_clips_give_80_db_and_ssim_1():
    a, _ = _random_pair((2, 3, 3, 32, 32), 0)
    assert torch.allclose(psnr(a, a), torch.full((2,), 80.0))
    assert torch.allclose(ssim(a, a), torch.ones(2), atol=1e-6)


def test_constant_offset_gives_the_analytic_psnr():
    g = torch.Generator().manual_seed(1)
    a = torch.rand(2, 3, 4, 16, 16, generator=g) - 0.5  # stays inside [-1, 1] after the offset
    for delta in (0.01, 0.1, 0.25):  # offset on the [0, 1] scale
        expected = -10 * math.log10(delta**2 + 1e-8)
        got = psnr(a + 2 * delta, a)
        assert torch.allclose(got, torch.full((2,), expected), atol=1e-4), (delta, got)


def test_inputs_are_clamped_to_the_unit_range_first():
    a, _ = _random_pair((1, 3, 2, 24, 24), 2)
    beyond = a.sign() * (1 + a.abs())  # every value outside [-1, 1]
    assert float(psnr(beyond, a.sign())) == pytest.approx(80.0)
    assert float(psnr(a, a.sign())) < 20


@pytest.mark.parametrize("size", [64, 256])
@pytest.mark.parametrize("kind", ["random", "smooth"])
def test_matches_scikit_image_below_384_px(size, kind):
    shape = (2, 3, 3, size, size) if size == 64 else (1, 3, 2, size, size)
    a, b = _random_pair(shape, 3) if kind == "random" else _smooth_pair(shape, 4)
    ref_psnr, ref_ssim = _skimage_scores(a, b, release_epsilon=True)
    np.testing.assert_allclose(psnr(a, b).numpy(), ref_psnr, atol=1e-4)
    np.testing.assert_allclose(ssim(a, b).numpy(), ref_ssim, atol=1e-4)
    if kind == "random":  # low PSNR: the epsilon is invisible, skimage's own value agrees
        np.testing.assert_allclose(psnr(a, b).numpy(), _skimage_scores(a, b)[0], atol=1e-4)


def test_non_square_frames_match_scikit_image():
    a, b = _random_pair((1, 3, 2, 40, 72), 5, noise=0.05)
    ref_psnr, ref_ssim = _skimage_scores(a, b)
    np.testing.assert_allclose(psnr(a, b).numpy(), ref_psnr, atol=1e-4)
    np.testing.assert_allclose(ssim(a, b).numpy(), ref_ssim, atol=1e-4)


def test_downscale_factor_follows_the_release_rule():
    assert ssim_downscale_factor(256, 256) == 1
    assert ssim_downscale_factor(383, 1000) == 1
    assert ssim_downscale_factor(384, 384) == 2
    assert ssim_downscale_factor(512, 768) == 2
    assert ssim_downscale_factor(640, 640) == 2  # Python's round: 2.5 -> 2
    assert ssim_downscale_factor(1024, 1024) == 4


def test_384_px_frames_are_average_pooled_before_ssim():
    a, b = _random_pair((1, 3, 2, 384, 400), 6, noise=0.6)
    # The release's path by hand: [0, 1], 2 x 2 average pool, then SSIM per frame.
    x = F.avg_pool2d(((a + 1) / 2)[0].permute(1, 0, 2, 3), 2)  # T 3 192 200
    y = F.avg_pool2d(((b + 1) / 2)[0].permute(1, 0, 2, 3), 2)
    expected = np.mean([
        skimage_metrics.structural_similarity(
            x[t].double().permute(1, 2, 0).numpy(), y[t].double().permute(1, 2, 0).numpy(),
            gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1,
        )
        for t in range(x.shape[0])
    ])
    assert float(ssim(a, b)[0]) == pytest.approx(expected, abs=1e-4)
    # Without the downscale the value differs: the pooled path is really taken.
    assert abs(float(ssim(a, b, downscale=False)[0]) - expected) > 1e-3


def test_single_clip_and_batch_agree():
    a, b = _random_pair((2, 3, 2, 32, 32), 7)
    assert psnr(a[1], b[1]).shape == (1,)
    assert torch.allclose(psnr(a[1], b[1]), psnr(a, b)[1:])
    assert torch.allclose(ssim(a[1], b[1]), ssim(a, b)[1:])


def test_bad_shapes_raise_shape_error():
    a, b = _random_pair((1, 3, 2, 32, 32), 8)
    with pytest.raises(ShapeError, match="same shape"):
        psnr(a, b[:, :, :1])
    with pytest.raises(ShapeError, match=r"\(B, 3, T, H, W\)"):
        ssim(a[:, :2], b[:, :2])
    with pytest.raises(ShapeError, match="at least 11x11"):
        ssim(a[..., :8, :8], b[..., :8, :8])
