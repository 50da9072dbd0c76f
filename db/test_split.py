"""The test split of a search: its test prompts and the evaluations of its chosen sets on them.

Kept apart from the held-out prompts and ``evaluations`` (tables of their own, revision 0003), so that nothing
ranked for selection can read a test pair. Writes that a resumed search may repeat are idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from db.conversions import evaluation_from_row, evaluation_to_row
from db.records import Evaluation, StoredItem
from db.searches import item_rows
from db.store_part import IN_CHUNK, TEST_EVALUATIONS, TEST_PROMPTS, StorePart


class TestSplit(StorePart):
    """A search's test prompts and test evaluations, named by the search's name."""

    __test__ = False  # not a pytest test class

    def record_test_prompts(self, name: str, prompts: Iterable[StoredItem]) -> int:
        """Store the search's test prompts in one transaction; prompts already stored are kept as they are.
        Returns how many were new."""
        rows = item_rows(prompts)
        what = f"recording {len(rows)} test prompts of search {name!r} (is an item id or a position used twice?)"
        with self._transactions.scope(what, write=True) as session:
            search_id = self._search_id(session, name)
            if not rows:
                return 0
            c = TEST_PROMPTS.c
            statement = (
                self._insert(TEST_PROMPTS)
                .on_conflict_do_nothing(index_elements=[c.search_id, c.item_id])
                .returning(c.item_id)
            )
            return len(session.execute(statement, [{"search_id": search_id, **row} for row in rows]).all())

    def test_prompts(self, name: str) -> list[StoredItem]:
        """The search's test prompts, in position order (empty when it has no test split)."""
        c = TEST_PROMPTS.c
        with self._transactions.scope(f"reading the test prompts of search {name!r}", write=False) as session:
            search_id = self._search_id(session, name)
            statement = select(c.item_id, c.position, c.payload).where(c.search_id == search_id).order_by(c.position)
            rows = session.execute(statement)
            return [StoredItem(item_id=r.item_id, position=r.position, payload=r.payload) for r in rows]

    def record_test_evaluations(self, name: str, evaluations: Iterable[Evaluation]) -> int:
        """Store one unit's test evaluations in one transaction; pairs already stored are kept as they are.
        Returns how many pairs were new."""
        batch = list(evaluations)
        what = f"recording {len(batch)} test evaluations of search {name!r} (is every prompt_id a test prompt?)"
        with self._transactions.scope(what, write=True) as session:
            search_id = self._search_id(session, name)
            if not batch:
                return 0
            c = TEST_EVALUATIONS.c
            statement = (
                self._insert(TEST_EVALUATIONS)
                .on_conflict_do_nothing(index_elements=[c.search_id, c.set_key, c.prompt_id])
                .returning(c.prompt_id)
            )
            return len(session.execute(statement, [evaluation_to_row(search_id, e) for e in batch]).all())

    def test_evaluated_pairs(self, name: str, set_keys: Iterable[str]) -> set[tuple[str, str]]:
        """The (set key, test prompt id) pairs of ``set_keys`` that are already stored."""
        keys = list(dict.fromkeys(set_keys))
        c = TEST_EVALUATIONS.c
        with self._transactions.scope(f"reading test pairs of search {name!r}", write=False) as session:
            search_id = self._search_id(session, name)
            pairs: set[tuple[str, str]] = set()
            for start in range(0, len(keys), IN_CHUNK):
                statement = select(c.set_key, c.prompt_id).where(
                    c.search_id == search_id, c.set_key.in_(keys[start : start + IN_CHUNK])
                )
                pairs.update((row.set_key, row.prompt_id) for row in session.execute(statement))
            return pairs

    def test_evaluations_for(self, name: str, set_key: str) -> list[Evaluation]:
        """The stored test evaluations of one set, in test prompt order."""
        c, prompts = TEST_EVALUATIONS.c, TEST_PROMPTS.c
        with self._transactions.scope(f"reading test evaluations of search {name!r}", write=False) as session:
            search_id = self._search_id(session, name)
            statement = (
                select(*TEST_EVALUATIONS.c)
                .join(TEST_PROMPTS, (prompts.search_id == c.search_id) & (prompts.item_id == c.prompt_id))
                .where(c.search_id == search_id, c.set_key == set_key)
                .order_by(prompts.position)
            )
            return [evaluation_from_row(row) for row in session.execute(statement)]
