"""Fixtures for the Reducio-VAE tests: the tiny model of the official parity fixture."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
import torch
from safetensors.torch import load_file

from reducio.models.vae import ReducioVAE, VAEConfig


@pytest.fixture(scope="session")
def tiny_dir(fixtures_dir: Path) -> Path:
    return fixtures_dir / "official_tiny"


@pytest.fixture(scope="session")
def tiny_config(tiny_dir: Path) -> VAEConfig:
    return VAEConfig.from_official_yaml(tiny_dir / "config.yaml")


@pytest.fixture(scope="session")
def tiny_state_dict(tiny_dir: Path) -> dict[str, torch.Tensor]:
    # trainable weights are stored in float16; the reference ran in float32 on these values
    return {k: v.float() for k, v in load_file(tiny_dir / "weights.safetensors").items()}


@pytest.fixture(scope="session")
def tiny_io(tiny_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(tiny_dir / "io.safetensors")


@pytest.fixture(scope="session")
def make_tiny_vae(tiny_config, tiny_state_dict) -> Callable[..., ReducioVAE]:
    """A fresh eval-mode model with the official tiny weights (strict load, no renaming)."""

    def make(**changes) -> ReducioVAE:
        vae = ReducioVAE(tiny_config.replace(**changes) if changes else tiny_config)
        vae.load_state_dict(tiny_state_dict, strict=True)
        return vae.eval()

    return make
