"""Fixtures for the training tests (helpers live in training_toys.py)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """These models are tiny: one thread is faster than several on a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
