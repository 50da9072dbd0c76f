"""Database URLs and engines: which backends are supported and how connections to them are set up.

SQLite (a file) and PostgreSQL (through psycopg 3) are supported. On SQLite every connection uses WAL journaling,
a busy timeout and enforced foreign keys, and SQLAlchemy (not the ``sqlite3`` module) emits ``BEGIN``: a write
transaction begins with ``BEGIN IMMEDIATE``, so two processes writing one file queue for the lock instead of
failing when a read transaction tries to upgrade to a write.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from db.errors import DatabaseURLError

DEFAULT_BUSY_TIMEOUT_S = 30.0
"""How long a SQLite connection waits for another process's write lock before failing."""

WRITE = "demo_search_write"
"""Execution option marking a connection whose transaction will write (``BEGIN IMMEDIATE`` on SQLite)."""

_POSTGRES_DRIVER = "postgresql+psycopg"
_URL_EXAMPLES = "e.g. sqlite:///./demo_search.db or postgresql+psycopg://user:password@host:5432/dbname"

_json_serializer = functools.partial(json.dumps, allow_nan=False, ensure_ascii=False)


def parse_url(url: str | URL) -> URL:
    """``url`` as a SQLAlchemy URL on a supported backend; bare ``postgresql://`` URLs get the psycopg driver."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseURLError(f"invalid database URL {str(url)!r}: {exc}; expected {_URL_EXAMPLES}") from exc
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise DatabaseURLError(f"unsupported SQLite driver {driver!r} in {display_url(parsed)}; use sqlite:///PATH")
        return parsed
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise DatabaseURLError(
                f"unsupported PostgreSQL driver {driver!r} in {display_url(parsed)}; use {_POSTGRES_DRIVER}://..."
            )
        return parsed.set(drivername=_POSTGRES_DRIVER)
    raise DatabaseURLError(
        f"unsupported database backend {backend!r} in {display_url(parsed)}: demo-search stores searches in SQLite "
        f"or PostgreSQL ({_URL_EXAMPLES})"
    )


def display_url(url: URL) -> str:
    """``url`` as text with its password hidden, for messages and logs."""
    return url.render_as_string(hide_password=True)


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL; ``None`` for an in-memory SQLite database or another backend."""
    if not is_sqlite(url):
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def create_store_engine(
    url: URL, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S, read_only: bool = False
) -> Engine:
    """An engine for the store on ``url`` (already :func:`parse_url`-ed); connects lazily.

    With ``read_only`` the engine can neither change the database nor create it. SQLite: the file must exist; one
    with no write-ahead log beside it is opened ``immutable``, so nothing at all is written (not even the
    ``-wal``/``-shm`` files, which a ``mode=ro`` connection creates and cannot remove, and cannot create in a
    read-only directory); one with a log (a writer is connected, or died) is opened ``mode=ro``, so committed
    data in the log is seen. PostgreSQL: every transaction of the session is read-only.
    """
    if not is_sqlite(url):
        if read_only:
            return _create(url, pool_pre_ping=True, connect_args={"options": "-c default_transaction_read_only=on"})
        return _create(url, pool_pre_ping=True)
    path = sqlite_file(url)
    if path is not None and not path.parent.is_dir():
        raise DatabaseURLError(
            f"the directory of SQLite database {display_url(url)} does not exist: {path.parent.resolve()}"
        )
    if read_only:
        if path is None:
            raise DatabaseURLError(f"an in-memory SQLite database {display_url(url)} cannot be opened read-only")
        wal = path.with_name(path.name + "-wal")
        flag = {"mode": "ro"} if wal.exists() else {"immutable": "1"}
        url = url.set(database=path.resolve().as_uri(), query={**url.query, "uri": "true", **flag})
    options: dict[str, Any] = {"connect_args": {"timeout": busy_timeout_s}}
    if path is None:  # one shared connection, or every connection would see its own empty database
        options.update(poolclass=StaticPool, connect_args={"timeout": busy_timeout_s, "check_same_thread": False})
    engine = _create(url, **options)
    _take_over_sqlite_transactions(engine, busy_timeout_s, read_only=read_only)
    return engine


def _create(url: URL, **options: Any) -> Engine:
    try:
        return create_engine(url, json_serializer=_json_serializer, **options)
    except ImportError as exc:
        raise DatabaseURLError(
            f"the driver for {display_url(url)} is not installed ({exc}); PostgreSQL needs psycopg 3: "
            "pip install 'demo-search[postgres]'"
        ) from exc
    except ArgumentError as exc:
        raise DatabaseURLError(f"invalid database URL {display_url(url)}: {exc}") from exc


def _take_over_sqlite_transactions(engine: Engine, busy_timeout_s: float, *, read_only: bool) -> None:
    """SQLAlchemy's documented recipe: disable ``sqlite3``'s implicit BEGIN and emit our own.

    A read-only connection sets only its busy timeout: switching to WAL would write the file's header.
    """
    pragmas = [f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}"]
    if not read_only:
        pragmas = ["PRAGMA journal_mode=WAL", *pragmas, "PRAGMA foreign_keys=ON", "PRAGMA synchronous=NORMAL"]

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
