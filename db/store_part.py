"""What every part of the store shares: one transaction scope on one database, its tables, finding a search."""

from __future__ import annotations

import difflib
from typing import Any

from sqlalchemy import URL, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db.engine import display_url
from db.errors import SearchNotFoundError
from db.models import (
    EvaluationRow,
    HeldoutPromptRow,
    LeaseRow,
    LedgerRow,
    PoolItemRow,
    SearchRow,
    StepCandidateRow,
    StepRow,
    TestEvaluationRow,
    TestPromptRow,
    TuningResultRow,
)
from db.transactions import Transactions

IN_CHUNK = 500
"""Most values bound in one ``IN (...)`` (SQLite and PostgreSQL both cap a statement's parameters)."""

SEARCHES: Table = SearchRow.__table__  # type: ignore[assignment]
POOL_ITEMS: Table = PoolItemRow.__table__  # type: ignore[assignment]
HELDOUT_PROMPTS: Table = HeldoutPromptRow.__table__  # type: ignore[assignment]
CANDIDATES: Table = StepCandidateRow.__table__  # type: ignore[assignment]
STEPS: Table = StepRow.__table__  # type: ignore[assignment]
EVALUATIONS: Table = EvaluationRow.__table__  # type: ignore[assignment]
LEASES: Table = LeaseRow.__table__  # type: ignore[assignment]
LEDGER: Table = LedgerRow.__table__  # type: ignore[assignment]
TUNING_RESULTS: Table = TuningResultRow.__table__  # type: ignore[assignment]
TEST_PROMPTS: Table = TestPromptRow.__table__  # type: ignore[assignment]
TEST_EVALUATIONS: Table = TestEvaluationRow.__table__  # type: ignore[assignment]


class StorePart:
    """Base of the parts that :class:`db.store.Store` combines (searches, results, leases, tuning results).

    Each public method of a part runs in exactly one transaction of :attr:`_transactions`, returns
    :mod:`db.records` values (never rows) and fails only with :class:`db.errors.StoreError` or a subclass.
    """

    def __init__(self, transactions: Transactions, url: URL, dialect: str) -> None:
        self._transactions = transactions
        self._url = url
        self._dialect = dialect

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return display_url(self._url)

    def _insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """The dialect's INSERT, which has ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def _search_row(self, session: Session, name: str) -> Any:
        row = session.execute(select(*SEARCHES.c).where(SEARCHES.c.name == name)).one_or_none()
        if row is None:
            raise self._not_found(session, name)
        return row

    def _search_id(self, session: Session, name: str) -> int:
        search_id = session.execute(select(SEARCHES.c.id).where(SEARCHES.c.name == name)).scalar_one_or_none()
        if search_id is None:
            raise self._not_found(session, name)
        return int(search_id)

    def _not_found(self, session: Session, name: str) -> SearchNotFoundError:
        names = list(session.execute(select(SEARCHES.c.name)).scalars())
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"; did you mean {', '.join(repr(n) for n in close)}?" if close else ""
        return SearchNotFoundError(f"no search named {name!r} in {self.url} ({len(names)} searches stored){hint}")
