"""The store: the one API through which demo-search reads and writes its database.

:class:`Store` combines the parts of the API, one module per topic: :mod:`db.searches` (searches, pool items,
held-out prompts), :mod:`db.results` (evaluations, candidates, steps), :mod:`db.test_split` (test prompts and
their evaluations), :mod:`db.leases`, :mod:`db.tuning_results` and :mod:`db.ledger` (the evaluation ledger). Every
method runs in exactly one transaction (:class:`db.transactions.Transactions`): it is stored entirely or not at all,
and fails only with :class:`db.errors.StoreError` or a subclass. Searches are
named by their unique name.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import URL, Engine

from db.engine import DEFAULT_BUSY_TIMEOUT_S, create_store_engine, display_url, parse_url, sqlite_file
from db.errors import DatabaseNotFoundError
from db.integrity import check_integrity
from db.leases import Leases
from db.ledger import Ledger
from db.results import Results
from db.schema import BUNDLED_MIGRATIONS, DatabaseInfo, ensure_current
from db.searches import Searches
from db.test_split import TestSplit
from db.transactions import Transactions
from db.tuning_results import TuningResults


class Store(Searches, Results, TestSplit, Leases, TuningResults, Ledger):
    """A demo-search database (SQLite file or PostgreSQL), opened with :meth:`open`; close it with :meth:`close`."""

    def __init__(self, engine: Engine, url: URL, info: DatabaseInfo, *, read_only: bool = False) -> None:
        """Use :meth:`open`; this wraps an engine whose schema :func:`db.schema.ensure_current` has checked."""
        transactions = Transactions(engine, database=display_url(url), read_only=read_only)
        super().__init__(transactions, url, engine.dialect.name)
        self._engine = engine
        self._info = info
        self._read_only = read_only

    @classmethod
    def open(
        cls,
        url: str | URL,
        *,
        create: bool = True,
        read_only: bool = False,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        migrations_dir: Path = BUNDLED_MIGRATIONS,
    ) -> Store:
        """Open the store on ``url``, checking that the database is whole and its schema at the newest revision.

        A database with no tables is given the schema when ``create`` is true (with ``create`` false, a missing
        SQLite file is :class:`DatabaseNotFoundError` and is not created). A database at an older revision raises
        :class:`SchemaVersionError` naming ``demo-search db upgrade``; so does a newer or a foreign one.

        ``read_only`` opens it for reading commands: nothing is created, migrated or written (SQLite: the file is
        opened read-only, so a database in a read-only directory can be read; PostgreSQL: a read-only session),
        and every writing method raises :class:`StoreError`.

        A SQLite file with a damaged page raises :class:`DatabaseDamagedError` here, before anything is written
        to it (:func:`db.integrity.check_integrity`).
        """
        parsed = parse_url(url)
        path = sqlite_file(parsed)
        if (read_only or not create) and path is not None and not path.is_file():
            raise DatabaseNotFoundError(
                f"SQLite database {path} does not exist; check the database URL, or run `demo-search db upgrade`"
            )
        engine = create_store_engine(parsed, busy_timeout_s=busy_timeout_s, read_only=read_only)
        try:
            if path is not None and path.is_file():
                check_integrity(engine, parsed)
            info = ensure_current(engine, parsed, create=create and not read_only, migrations_dir=migrations_dir)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, parsed, info, read_only=read_only)

    @property
    def schema_revision(self) -> str | None:
        return self._info.revision

    @property
    def read_only(self) -> bool:
        """Whether the store was opened for reading only."""
        return self._read_only

    def close(self) -> None:
        """Release every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
