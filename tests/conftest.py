"""Shared test helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """tests/fixtures: parity data produced by the official implementation (see its README in
    ../shared/fixtures)."""
    return FIXTURES_DIR
