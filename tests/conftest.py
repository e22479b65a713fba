"""Shared test helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"

# One intra-op thread for the whole suite, module- and session-scoped fixtures included: the test
# machines are shared 2-core boxes where two OpenMP threads competing with other jobs ran the VAE
# tests 4x slower (74 s vs 18 s wall) than one, and the tiny models gain nothing from threads.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _one_thread():
    """Back to one thread after a test that asked for more."""
    yield
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """tests/fixtures: parity data produced by the official implementation (see its README in
    the folder)."""
    return FIXTURES_DIR
