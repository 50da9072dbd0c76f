"""The evaluation ledger: computed evaluations by content key, shared by every search of the database."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from db.conversions import checked_json, storable_text
from db.records import LedgerEntry
from db.store_part import IN_CHUNK, LEDGER, StorePart


class Ledger(StorePart):
    def ledger_entries(self, keys: Iterable[str]) -> dict[str, LedgerEntry]:
        """The ledger's entries for ``keys`` (keys it does not hold are absent)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, LedgerEntry] = {}
        c = LEDGER.c
        with self._transactions.scope("reading the evaluation ledger", write=False) as session:
            for start in range(0, len(wanted), IN_CHUNK):
                statement = select(*LEDGER.c).where(c.content_key.in_(wanted[start : start + IN_CHUNK]))
                for row in session.execute(statement):
                    found[row.content_key] = LedgerEntry(row.content_key, row.score, row.output, row.detail,
                                                         row.prompt_tokens)
        return found

    def remember(self, entries: Iterable[LedgerEntry]) -> int:
        """Add ``entries`` to the ledger in one transaction (a key it holds already keeps its entry); how many were
        new."""
        batch = list({entry.content_key: entry for entry in entries}.values())
        if not batch:
            return 0
        rows = [
            {"content_key": e.content_key, "score": e.score, "output": storable_text(e.output),
             "detail": None if e.detail is None else checked_json(e.detail, f"ledger entry {e.content_key}"),
             "prompt_tokens": e.prompt_tokens}
            for e in batch
        ]
        with self._transactions.scope(f"adding {len(batch)} evaluations to the ledger", write=True) as session:
            statement = self._insert(LEDGER).on_conflict_do_nothing(index_elements=[LEDGER.c.content_key])
            return len(session.execute(statement.returning(LEDGER.c.content_key), rows).all())
