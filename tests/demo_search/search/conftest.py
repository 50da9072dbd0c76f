"""Fixtures of the search tests: the random tiny model (built once per session) and this process's Ray.

The builders behind them live in ``tests.support.harness`` so that the export and CLI tests use the
same model, data and Ray instance.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import harness


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The random tiny Llama of ``harness.MODEL_CONFIG``, shared by every test of the session."""
    return harness.random_model_dir(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def ray_address() -> str:
    """This process's local Ray; drivers started by the tests join it."""
    return harness.ray_address()
