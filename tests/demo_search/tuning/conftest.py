"""Fixtures of the tuning tests: a database on each backend (with the store's schema and one search in it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from db import Store

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new database (SQLite file, or a fresh PostgreSQL database) holding the store's schema and no search."""
    url = f"sqlite:///{tmp_path / 'search.db'}" if backend == "sqlite" else str(request.getfixturevalue("postgres_url"))
    Store.open(url).close()
    return url
