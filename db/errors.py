"""Errors raised by the ``db`` package.

Every failure of the store surfaces as a :class:`StoreError` (or a subclass); SQLAlchemy and driver errors never
escape it, they are kept as ``__cause__``. Messages say what was being done and what to do about it.
"""

from __future__ import annotations

from datetime import datetime


class StoreError(Exception):
    """Base class of every error raised by ``db``."""


class DatabaseURLError(StoreError):
    """The database URL cannot be parsed, names an unsupported backend, or its driver is missing."""


class DatabaseNotFoundError(StoreError):
    """The database does not exist and the caller asked not to create it."""


class DatabaseDamagedError(StoreError):
    """The database file is damaged (a SQLite page that does not read back, or a file that is not SQLite's), or
    PostgreSQL reports corrupted data. Nothing is written to such a database; restore it from a backup."""


class SchemaVersionError(StoreError):
    """The database's schema is not the one this version of demo-search reads and writes.

    Raised for an older revision (the message names ``demo-search db upgrade``), a newer revision unknown to this
    installation, and a database that holds tables but no demo-search schema version.
    """


class SearchExistsError(StoreError):
    """A search with this name already exists."""


class SearchNotFoundError(StoreError):
    """No search with this name exists."""


class RecordConflictError(StoreError):
    """A record that is written once (a step of a search) already exists with different contents."""


class LeaseHeldError(StoreError):
    """Another driver holds a live lease on the search.

    ``owner`` names the holder (host:pid:uuid as the driver chose it) and ``expires_at`` (UTC, the database's
    clock) says until when the lease is held unless renewed.
    """

    def __init__(self, search: str, owner: str, expires_at: datetime, remaining_s: float) -> None:
        self.search = search
        self.owner = owner
        self.expires_at = expires_at
        self.remaining_s = remaining_s
        until = expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        super().__init__(
            f"search {search!r} is being run by {owner} (lease until {until}, {remaining_s:.0f} s from now); "
            "wait for that driver to finish, or, if it is dead, retry after the lease expires"
        )

    def __reduce__(self) -> tuple[type[LeaseHeldError], tuple[str, str, datetime, float]]:
        return (type(self), (self.search, self.owner, self.expires_at, self.remaining_s))


class LeaseLostError(StoreError):
    """The caller no longer holds the lease it tries to renew (it was released, or another driver took it)."""
