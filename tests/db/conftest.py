"""The store's contract suite runs every test on each backend: a SQLite file and a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from store_testing import items

from db import Search, Store

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path) -> str:
    """URL of a database that does not hold a schema yet (a new SQLite file, or a new PostgreSQL database)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url) as opened:
        yield opened


@pytest.fixture
def search(store: Store) -> Search:
    """A search with a pool of 4 items (pool-0..3) and 3 held-out prompts (prompt-0..2)."""
    return store.create_search(
        "demo",
        config={"model": "tiny", "steps": 3},
        fingerprint="f" * 64,
        fingerprint_parts={"model": "a1"},
        pool_items=items("pool", 4),
        heldout_prompts=items("prompt", 3),
    )
