"""Fixtures for the Reducio-VAE tests: the tiny model of the official parity fixture."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
import torch
from safetensors.torch import load_file

from reducio.models.vae import ReducioVAE, VAEConfig
from reducio.models.vae.official_config import (config_from_official_yaml, read_official_params,
                                                runtime_from_official_params)


@pytest.fixture(scope="session")
def tiny_dir(fixtures_dir: Path) -> Path:
    return fixtures_dir / "official_tiny"


@pytest.fixture(scope="session")
def tiny_config(tiny_dir: Path) -> VAEConfig:
    return config_from_official_yaml(tiny_dir / "config.yaml")


@pytest.fixture(scope="session")
def tiny_state_dict(tiny_dir: Path) -> dict[str, torch.Tensor]:
    # trainable weights are stored in float16; the reference ran in float32 on these values
    return {k: v.float() for k, v in load_file(tiny_dir / "weights.safetensors").items()}


@pytest.fixture(scope="session")
def tiny_io(tiny_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(tiny_dir / "io.safetensors")


@pytest.fixture(scope="session")
def tiny_runtime(tiny_dir: Path) -> dict:
    """The tiny release YAML's runtime settings: tiling on, 64 px tiles, overlap 0.25."""
    return runtime_from_official_params(read_official_params(tiny_dir / "config.yaml"))


@pytest.fixture(scope="session")
def make_tiny_vae(tiny_config, tiny_runtime, tiny_state_dict) -> Callable[..., ReducioVAE]:
    """A fresh eval-mode model with the official tiny weights (strict load, no renaming) and the
    YAML's tiling. `changes`: config fields, or runtime settings such as use_tiling=False."""

    def make(**changes) -> ReducioVAE:
        runtime = {**tiny_runtime, **{key: changes.pop(key) for key in list(changes)
                                      if key in VAEConfig.RUNTIME_KEYS}}
        vae = ReducioVAE(tiny_config.replace(**changes) if changes else tiny_config)
        vae.apply_runtime_settings(runtime)
        vae.load_state_dict(tiny_state_dict, strict=True)
        return vae.eval()

    return make
