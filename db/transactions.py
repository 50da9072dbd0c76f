"""One transaction scope for every store operation: it commits, or rolls back and maps the error to ``db``'s own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from db.engine import WRITE
from db.errors import StoreError


class Transactions:
    """Session scopes on one engine.

    ``scope(what, write=...)`` yields a session inside a transaction that commits when the block ends and rolls
    back when it raises, so an operation is stored entirely or not at all. A ``write`` scope begins its
    transaction as a writer (``BEGIN IMMEDIATE`` on SQLite), so concurrent writers queue instead of failing.
    SQLAlchemy errors leave the scope as :class:`StoreError` naming ``what`` was being done; errors of ``db``'s own
    types and non-database errors pass through unchanged (after the rollback).
    """

    def __init__(self, engine: Engine) -> None:
        self._reads = sessionmaker(engine, expire_on_commit=False)
        self._writes = sessionmaker(engine.execution_options(**{WRITE: True}), expire_on_commit=False)

    @contextmanager
    def scope(self, what: str, *, write: bool) -> Iterator[Session]:
        factory = self._writes if write else self._reads
        try:
            with factory.begin() as session:
                yield session
        except IntegrityError as exc:
            raise StoreError(f"{what} violates a database constraint: {_reason(exc)}") from exc
        except OperationalError as exc:
            raise StoreError(f"{what} failed: the database is unreachable or busy ({_reason(exc)})") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"{what} failed: {_reason(exc)}") from exc


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's message (first line), or SQLAlchemy's when there is no driver error."""
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
