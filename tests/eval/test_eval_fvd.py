"""Fréchet distance against closed forms, feature statistics, the I3D network and its loading."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch

from reducio.errors import ModelNotFoundError, ShapeError, UnsafeCheckpointError
from reducio.eval.fvd import FeatureStats, frechet_distance, fvd_from_features, i3d_embed, preprocess, scipy_available
from reducio.eval.i3d import InceptionI3d, i3d_input_frames_ok

METHODS = ["eigh", pytest.param("scipy", marks=pytest.mark.skipif(not scipy_available(), reason="no scipy"))]


@pytest.mark.parametrize("method", METHODS)
def test_diagonal_covariances_match_the_closed_form(method):
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=16), rng.normal(size=16)
    s1, s2 = rng.uniform(0.1, 3, size=16), rng.uniform(0.1, 3, size=16)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    got = frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2), method=method)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_full_covariances_match_an_independent_computation(method):
    rng = np.random.default_rng(1)
    d = 24
    a, b = rng.normal(size=(d, 2 * d)), rng.normal(size=(d, 2 * d))
    sigma1, sigma2 = a @ a.T / (2 * d), b @ b.T / (2 * d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    # tr((S1 S2)^(1/2)) = sum of square roots of the (real, non-negative) eigenvalues of S1 S2.
    eig = np.linalg.eigvals(sigma1 @ sigma2).real.clip(min=0)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.sqrt(eig).sum()
    got = frechet_distance(torch.from_numpy(mu1), torch.from_numpy(sigma1), mu2, sigma2, method=method)
    assert got == pytest.approx(expected, rel=1e-7)


def test_methods_agree_and_identical_gaussians_are_at_zero():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 10))
    mu, sigma = x.mean(0), np.cov(x, rowvar=False)
    assert frechet_distance(mu, sigma, mu, sigma, method="eigh") == pytest.approx(0, abs=1e-8)
    one_d = frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]]))
    assert one_d == pytest.approx((1 - 3) ** 2 + (2 - 3) ** 2)


def test_feature_stats_stream_equals_numpy():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 7)) * np.arange(1, 8)
    stats = FeatureStats()
    for chunk in np.array_split(x, 4):
        stats.update(torch.from_numpy(chunk))
    np.testing.assert_allclose(stats.mean(), x.mean(0), atol=1e-10)
    np.testing.assert_allclose(stats.cov(), np.cov(x, rowvar=False), atol=1e-10)
    with pytest.raises(ShapeError):
        stats.update(torch.zeros(3, 8))


def test_fvd_of_shifted_features_is_the_squared_shift():
    g = torch.Generator().manual_seed(4)
    real = torch.randn(64, 5, generator=g, dtype=torch.float64)
    assert fvd_from_features(real, real + 0.5) == pytest.approx(5 * 0.25, rel=1e-6)


def test_preprocess_resizes_short_side_and_centre_crops():
    video = torch.rand(1, 3, 2, 112, 140) * 2 - 1
    out = preprocess(video)
    assert out.shape == (1, 3, 2, 224, 224)
    same = torch.rand(2, 3, 3, 224, 224) * 2 - 1
    assert torch.equal(preprocess(same), same)
    assert torch.equal(preprocess(same[0]), same[:1])  # a single clip gains a batch axis


@pytest.fixture(scope="module")
def i3d_file(tmp_path_factory):
    torch.manual_seed(0)
    model = InceptionI3d()
    # Non-trivial running statistics, so loading them matters.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("i3d") / "rgb_imagenet.pt"
    torch.save(model.state_dict(), path)
    return path, model


def test_i3d_parameter_names_follow_pytorch_i3d(i3d_file):
    _, model = i3d_file
    state = model.state_dict()
    assert state["Conv3d_1a_7x7.conv3d.weight"].shape == (64, 3, 7, 7, 7)
    assert state["Conv3d_2c_3x3.bn.running_var"].shape == (192,)
    assert state["Mixed_4f.b1b.conv3d.weight"].shape == (320, 160, 3, 3, 3)
    assert state["Mixed_5c.b3b.conv3d.weight"].shape == (128, 832, 1, 1, 1)
    assert state["logits.conv3d.weight"].shape == (400, 1024, 1, 1, 1)
    assert "logits.bn.weight" not in state and "Mixed_3b.b3a.weight" not in state


def test_i3d_loads_its_state_dict_and_embeds(i3d_file):
    path, model = i3d_file
    loaded = InceptionI3d.from_pretrained(path)
    video = torch.rand(1, 3, 10, 224, 224) * 2 - 1
    logits = loaded.features(video, "logits")
    assert logits.shape == (1, 400)
    assert torch.allclose(logits, model.features(video, "logits"), atol=1e-5)
    assert loaded.features(video, "pool").shape == (1, 1024)
    # i3d_embed resizes a small clip to 224 first.
    assert i3d_embed(loaded, torch.rand(1, 3, 10, 32, 32) * 2 - 1).shape == (1, 400)


def test_i3d_class_count_comes_from_the_file(tmp_path):
    torch.save(InceptionI3d(num_classes=600).state_dict(), tmp_path / "k600.pt")
    assert InceptionI3d.from_pretrained(tmp_path / "k600.pt").num_classes == 600


def test_i3d_errors(tmp_path):
    with pytest.raises(ModelNotFoundError, match="rgb_imagenet.pt"):
        InceptionI3d.from_pretrained(tmp_path / "missing.pt")
    script = tmp_path / "i3d_torchscript.pt"
    with zipfile.ZipFile(script, "w") as archive:
        archive.writestr("i3d/constants.pkl", b"")
        archive.writestr("i3d/code/__torch__/i3d.py", "")
    with pytest.raises(UnsafeCheckpointError, match="TorchScript"):
        InceptionI3d.from_pretrained(script)
    with pytest.raises(ShapeError, match="224"):
        InceptionI3d().features(torch.zeros(1, 3, 10, 64, 64))
    assert not i3d_input_frames_ok(8) and i3d_input_frames_ok(9) and i3d_input_frames_ok(16)
