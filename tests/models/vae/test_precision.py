"""bfloat16 inference stays close to float32 (fixture weights, fixture clip cropped to 32x32).

Measured on CPU (2026-11, AMD EPYC, torch 2.13): posterior mean max error 0.0077 (values within
+-0.4), normalised latent 0.041, reconstruction max 0.084 / mean 0.010 (values within +-2.5). The
randomly initialised fixture decoder amplifies latent perturbations ~100x (fixtures README), so
the reconstruction bound is loose. bf16 3D convolutions are very slow on CPUs without native
bf16 support (~14 s CPU here), hence `slow`.
"""

from __future__ import annotations

import pytest
import torch


@pytest.mark.slow
def test_bf16_forward_close_to_fp32(make_tiny_vae, tiny_io):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    clip = tiny_io["x"][..., :32, :32].to(device)
    with torch.no_grad():
        ref = make_tiny_vae().to(device)(clip)
        out = make_tiny_vae().to(device, torch.bfloat16)(clip)  # input cast by the model
    assert out.sample.dtype == torch.bfloat16
    err_mean = (out.latent_dist.mean.float() - ref.latent_dist.mean).abs().max().item()
    err = (out.sample.float() - ref.sample).abs()
    scale = ref.sample.abs().max().item()
    assert err_mean < 0.03
    assert err.max().item() < 0.1 * scale and err.mean().item() < 0.01 * scale
