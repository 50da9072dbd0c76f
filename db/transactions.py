"""One transaction scope for every store operation: it commits, or rolls back and maps the error to ``db``'s own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import URL, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from db.engine import WRITE, display_url
from db.errors import DatabaseDamagedError, StoreError

_SQLITE_DAMAGE = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
"""SQLite's result codes (and their extended forms) for a damaged file or one that is not a database."""
_POSTGRES_DAMAGE = ("XX001", "XX002")
"""PostgreSQL's SQLSTATEs data_corrupted and index_corrupted."""


class Transactions:
    """Session scopes on one engine of the database ``database`` (its URL, password hidden).

    ``scope(what, write=...)`` yields a session inside a transaction that commits when the block ends and rolls
    back when it raises, so an operation is stored entirely or not at all. A ``write`` scope begins its
    transaction as a writer (``BEGIN IMMEDIATE`` on SQLite), so concurrent writers queue instead of failing; with
    ``read_only`` a write scope is refused before the database is touched. SQLAlchemy errors leave the scope as
    :class:`StoreError` (see :func:`store_error`); errors of ``db``'s own types and non-database errors pass
    through unchanged (after the rollback).
    """

    def __init__(self, engine: Engine, *, database: str, read_only: bool = False) -> None:
        self._database = database
        self._read_only = read_only
        self._reads = sessionmaker(engine, expire_on_commit=False)
        self._writes = sessionmaker(engine.execution_options(**{WRITE: True}), expire_on_commit=False)

    @contextmanager
    def scope(self, what: str, *, write: bool) -> Iterator[Session]:
        if write and self._read_only:
            raise StoreError(f"database {self._database} was opened read-only: refusing {what}")
        factory = self._writes if write else self._reads
        try:
            with factory.begin() as session:
                yield session
        except SQLAlchemyError as exc:
            raise store_error(exc, what, self._database) from exc


def store_error(exc: SQLAlchemyError, what: str, database: str) -> StoreError:
    """The error of ``db``'s own for ``exc``, raised while doing ``what`` on ``database``: one line that says why."""
    damaged = damage_error(exc, database)
    if damaged is not None:
        return damaged
    if isinstance(exc, IntegrityError):
        return StoreError(f"{what} violates a database constraint: {_reason(exc)}")
    if isinstance(exc, OperationalError):
        return StoreError(f"{what} failed: the database is unreachable or busy ({_reason(exc)})")
    return StoreError(f"{what} failed: {_reason(exc)}")


def connection_error(url: URL, exc: SQLAlchemyError) -> StoreError:
    """The error to raise when the database on ``url`` cannot be reached or read."""
    damaged = damage_error(exc, display_url(url))
    if damaged is not None:
        return damaged
    reason = str(getattr(exc, "orig", None) or exc).strip()
    return StoreError(f"cannot use database {display_url(url)}: {reason}")


def damage_error(exc: SQLAlchemyError, database: str) -> DatabaseDamagedError | None:
    """:class:`DatabaseDamagedError` naming ``database`` when ``exc`` says its file or data is damaged; else None."""
    original = getattr(exc, "orig", None)
    damaged = str(getattr(original, "sqlite_errorname", "")).startswith(_SQLITE_DAMAGE) or (
        getattr(original, "sqlstate", None) in _POSTGRES_DAMAGE
    )
    return damaged_database(database, _reason(exc)) if damaged else None


def damaged_database(database: str, reason: str) -> DatabaseDamagedError:
    return DatabaseDamagedError(f"database {database} is damaged ({reason}); restore it from a backup")


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's message (first line), or SQLAlchemy's when there is no driver error."""
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
