"""Fixtures of the tuning tests: the model (built or found once per session) and a database on each backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from db import Store
from tests.demo_search.tuning import planted

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new database (a SQLite file, or a fresh PostgreSQL database) holding the store's schema and no search."""
    url = f"sqlite:///{tmp_path / 'search.db'}" if backend == "sqlite" else str(request.getfixturevalue("postgres_url"))
    Store.open(url).close()
    return url


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled tiny model when trained, else a random tiny Llama (see ``planted.any_model``)."""
    return planted.any_model(tmp_path_factory.getbasetemp())
