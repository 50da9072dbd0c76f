"""Bad database URLs and unreachable databases fail with messages that say what is wrong."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from db import DatabaseURLError, SchemaState, Store, StoreError, inspect_database, parse_url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "invalid database URL 'not a url'.*expected e.g. sqlite:///"),
        ("mysql://user@localhost/db", "unsupported database backend 'mysql'"),
        ("postgresql+asyncpg://user@localhost/db", "unsupported PostgreSQL driver 'asyncpg'"),
        ("sqlite+aiosqlite:///x.db", "unsupported SQLite driver 'aiosqlite'"),
    ],
)
def test_unusable_urls_are_rejected_before_connecting(url: str, message: str) -> None:
    with pytest.raises(DatabaseURLError, match=message):
        Store.open(url)


def test_bare_postgresql_urls_get_the_psycopg_driver() -> None:
    assert parse_url("postgresql://u@h/d").drivername == "postgresql+psycopg"
    assert parse_url("postgres://u@h:5433/d").render_as_string() == "postgresql+psycopg://u@h:5433/d"
    assert parse_url("sqlite:///./demo_search.db").database == "./demo_search.db"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_an_unreachable_database_names_the_url_and_hides_the_password(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        url, error, reason = f"sqlite:///{tmp_path}/no/such/dir/store.db", DatabaseURLError, "does not exist"
    else:
        url = f"postgresql://someone:s3cret@127.0.0.1:{_closed_port()}/db?connect_timeout=5"
        error, reason = StoreError, "cannot use database postgresql\\+psycopg://someone:\\*\\*\\*@127.0.0.1"

    with pytest.raises(error, match=reason) as refused:
        Store.open(url)

    assert "s3cret" not in str(refused.value)
    assert not (tmp_path / "no").exists()


@pytest.mark.postgres
def test_a_missing_postgresql_database_is_reported_not_created(postgres_server) -> None:
    url = postgres_server.url("no_such_database")

    assert inspect_database(url).state is SchemaState.MISSING
    with pytest.raises(StoreError, match='database "no_such_database" does not exist'):
        Store.open(url)
