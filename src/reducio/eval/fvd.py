"""Fréchet video distance (FVD) and reconstruction FVD (rFVD).

FVD compares two sets of clips through the Gaussian fitted to their I3D embeddings
(`reducio.eval.i3d`, 400-d Kinetics logits by default):

    FVD = ||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))

with unbiased covariances (divide by n - 1, as pytorch-fid and TF-GAN do). rFVD is FVD between
the originals and their reconstructions. Clips are resized so that the short side is 224
(bilinear, no antialias) and centre-cropped to 224 x 224, as in the TATS / StyleGAN-V ports.
Scores from different feature kinds, clip counts or preprocessing are not comparable.
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange

from reducio.errors import ConfigError, ShapeError
from reducio.eval.reconstruction import as_video_batch

logger = logging.getLogger(__name__)

I3D_RESOLUTION = 224
SQRT_METHODS = ("auto", "scipy", "eigh")


def preprocess(video: torch.Tensor, resolution: int = I3D_RESOLUTION) -> torch.Tensor:
    """`B 3 T H W` in [-1, 1] -> `B 3 T 224 224`: short side to 224 (bilinear), centre crop."""
    video = as_video_batch(video).float().clamp(-1, 1)
    b, _, t, h, w = video.shape
    scale = resolution / min(h, w)
    size = (math.ceil(h * scale), math.ceil(w * scale))
    size = (max(size[0], resolution), max(size[1], resolution))
    frames = rearrange(video, "b c t h w -> (b t) c h w")
    if (h, w) != size:
        frames = F.interpolate(frames, size=size, mode="bilinear", align_corners=False)
    top = (size[0] - resolution) // 2
    left = (size[1] - resolution) // 2
    frames = frames[:, :, top : top + resolution, left : left + resolution]
    return rearrange(frames, "(b t) c h w -> b c t h w", b=b, t=t)


class FeatureStats:
    """Running mean and covariance of embeddings (float64), so clips can stream through."""

    def __init__(self) -> None:
        self.count = 0
        self._sum: torch.Tensor | None = None
        self._outer: torch.Tensor | None = None

    def update(self, features: torch.Tensor) -> None:
        """features: `N D`."""
        if features.ndim != 2:
            raise ShapeError(f"features must be (N, D), got {tuple(features.shape)}")
        x = features.detach().to("cpu", torch.float64)
        if self._sum is None:
            self._sum = torch.zeros(x.shape[1], dtype=torch.float64)
            self._outer = torch.zeros(x.shape[1], x.shape[1], dtype=torch.float64)
        elif x.shape[1] != self._sum.shape[0]:
            raise ShapeError(f"feature width changed from {self._sum.shape[0]} to {x.shape[1]}")
        self.count += x.shape[0]
        self._sum += x.sum(dim=0)
        self._outer += x.T @ x

    def mean(self) -> np.ndarray:
        return (self._sum / self.count).numpy()

    def cov(self) -> np.ndarray:
        """Unbiased covariance (n - 1 denominator)."""
        if self.count < 2:
            raise ShapeError(f"a covariance needs at least 2 clips, got {self.count}")
        mu = self._sum / self.count
        cov = (self._outer - self.count * torch.outer(mu, mu)) / (self.count - 1)
        return cov.numpy()


def _sqrt_trace_scipy(sigma1: np.ndarray, sigma2: np.ndarray, eps: float) -> float:
    from scipy import linalg  # optional: FVD falls back to torch without scipy (scipy_available)

    with warnings.catch_warnings():
        # Singular products (fewer clips than dimensions) are common; the result is checked below.
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        # Near-singular product: the usual fix (pytorch-fid) is a small ridge on both covariances.
        logger.warning("sqrtm(S1 S2) is not finite; adding %g to the covariance diagonals", eps)
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        imaginary = np.abs(np.diagonal(covmean).imag).max()
        if imaginary > 1e-3:
            logger.warning("sqrtm(S1 S2) has an imaginary component of %g; keeping the real part", imaginary)
        covmean = covmean.real
    return float(np.trace(covmean))


def _sqrt_trace_eigh(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    # tr((S1 S2)^(1/2)) = tr((S1^(1/2) S2 S1^(1/2))^(1/2)): both factors are symmetric PSD, so
    # symmetric eigen-decompositions suffice and negative round-off eigenvalues are clamped.
    s1 = torch.from_numpy(np.asarray(sigma1, dtype=np.float64))
    s2 = torch.from_numpy(np.asarray(sigma2, dtype=np.float64))
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2
    values, vectors = torch.linalg.eigh(s1)
    root1 = vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T
    middle = root1 @ s2 @ root1
    middle = (middle + middle.T) / 2
    return float(torch.linalg.eigvalsh(middle).clamp(min=0).sqrt().sum())


def scipy_available() -> bool:
    try:
        import scipy.linalg  # noqa: F401  (optional dependency: is it installed?)
    except ImportError:
        return False
    return True


def frechet_distance(
    mu1: np.ndarray | torch.Tensor,
    sigma1: np.ndarray | torch.Tensor,
    mu2: np.ndarray | torch.Tensor,
    sigma2: np.ndarray | torch.Tensor,
    method: str = "auto",
    eps: float = 1e-6,
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    Args:
        mu1, mu2: `D` means. sigma1, sigma2: `D D` covariances.
        method: "scipy" (scipy.linalg.sqrtm of S1 S2, the pytorch-fid computation), "eigh"
            (symmetric eigen-decompositions in float64 torch) or "auto" (scipy when installed).
    """
    if method not in SQRT_METHODS:
        raise ConfigError(f"unknown matrix square root method {method!r}; valid: {', '.join(SQRT_METHODS)}")
    mu1, mu2, sigma1, sigma2 = (
        np.atleast_1d(np.asarray(v.cpu() if isinstance(v, torch.Tensor) else v, dtype=np.float64))
        for v in (mu1, mu2, sigma1, sigma2)
    )
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ShapeError(
            f"means and covariances disagree: mu {mu1.shape} / {mu2.shape}, sigma {sigma1.shape} / {sigma2.shape}"
        )
    if method == "auto":
        method = "scipy" if scipy_available() else "eigh"
    if method == "scipy":
        tr_covmean = _sqrt_trace_scipy(sigma1, sigma2, eps)
    else:
        tr_covmean = _sqrt_trace_eigh(sigma1, sigma2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def fvd_from_stats(real: FeatureStats, fake: FeatureStats, method: str = "auto") -> float:
    """FVD from two accumulated embedding sets."""
    dims = real.mean().shape[0]
    if min(real.count, fake.count) <= dims:
        logger.warning(
            "FVD from %d / %d clips of %d-d features: the covariances are singular and the score is "
            "biased; published FVDs use thousands of clips", real.count, fake.count, dims,
        )
    return frechet_distance(real.mean(), real.cov(), fake.mean(), fake.cov(), method=method)


def fvd_from_features(real: torch.Tensor, fake: torch.Tensor, method: str = "auto") -> float:
    """FVD from two embedding matrices `N D` and `M D`."""
    stats = []
    for features in (real, fake):
        s = FeatureStats()
        s.update(features)
        stats.append(s)
    return fvd_from_stats(*stats, method=method)


@torch.no_grad()
def i3d_embed(i3d: torch.nn.Module, video: torch.Tensor, kind: str = "logits", chunk: int = 8) -> torch.Tensor:
    """Embed clips `B 3 T H W` in [-1, 1] with I3D (after `preprocess`) -> `B D` on the CPU."""
    param = next(i3d.parameters())
    video = as_video_batch(video)
    out = []
    for i in range(0, video.shape[0], chunk):
        clips = preprocess(video[i : i + chunk]).to(param)
        out.append(i3d.features(clips, kind).float().cpu())
    return torch.cat(out)
