"""Searches and their items: create, read, list with progress, change status; the pool and held-out prompts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, func, insert, select, update

from db.clock import utc_now
from db.conversions import as_utc, checked_json, search_from_row
from db.errors import SearchExistsError, StoreError
from db.records import (
    JUDGE_COMPLETION_TOKENS,
    JUDGE_PROMPT_TOKENS,
    MAX_NAME_LENGTH,
    Search,
    SearchStatus,
    SearchSummary,
    StoredItem,
)
from db.store_part import EVALUATIONS, HELDOUT_PROMPTS, POOL_ITEMS, SEARCHES, STEPS, StorePart


class Searches(StorePart):
    """Searches, named by their unique name, with the pool and held-out prompts stored with each."""

    def create_search(
        self,
        name: str,
        *,
        config: Mapping[str, Any],
        fingerprint: str,
        fingerprint_parts: Mapping[str, str],
        rules: str = "",
        fixed_demos: Sequence[Mapping[str, Any]] = (),
        pool_items: Iterable[StoredItem] = (),
        heldout_prompts: Iterable[StoredItem] = (),
    ) -> Search:
        """Store a new search with status ``created``, with its pool and its held-out prompts, in one transaction.

        All of it is stored or nothing is: if any part fails (an item id or position used twice, a payload that
        is not JSON, a crash), no trace of the search is left and creating it again works.
        :class:`SearchExistsError` if ``name`` is taken. ``rules`` and ``fixed_demos`` (JSON objects) are kept with
        it, so exports need no original file.
        """
        if not name or len(name) > MAX_NAME_LENGTH:
            raise StoreError(f"a search name must have 1 to {MAX_NAME_LENGTH} characters, got {name!r}")
        statement = (
            self._insert(SEARCHES)
            .values(
                name=name,
                config=checked_json(config, f"the config of search {name!r}"),
                fingerprint=fingerprint,
                fingerprint_parts=checked_json(fingerprint_parts, f"the fingerprint parts of search {name!r}"),
                rules=rules,
                fixed_demos=[
                    checked_json(demo, f"fixed demonstration {i} of search {name!r}") for i, demo in enumerate(fixed_demos)
                ],
                status=SearchStatus.CREATED.value,
            )
            .on_conflict_do_nothing(index_elements=[SEARCHES.c.name])
            .returning(*SEARCHES.c)
        )
        pool, prompts = item_rows(pool_items), item_rows(heldout_prompts)
        what = (
            f"creating search {name!r} with {len(pool)} pool items and {len(prompts)} held-out prompts "
            "(is an item id or a position used twice?)"
        )
        with self._transactions.scope(what, write=True) as session:
            row = session.execute(statement).one_or_none()
            if row is None:
                existing = self._search_row(session, name)
                raise SearchExistsError(
                    f"a search named {name!r} already exists in {self.url} (status {existing.status}, created "
                    f"{as_utc(existing.created_at):%Y-%m-%d %H:%M:%S}Z); resume it or choose another name"
                )
            for table, rows in ((POOL_ITEMS, pool), (HELDOUT_PROMPTS, prompts)):
                if rows:
                    session.execute(insert(table), [{"search_id": row.id, **item} for item in rows])
            return search_from_row(row)

    def get_search(self, name: str) -> Search:
        """The search named ``name``; :class:`SearchNotFoundError` (with close names) if there is none."""
        with self._transactions.scope(f"reading search {name!r}", write=False) as session:
            return search_from_row(self._search_row(session, name))

    def find_search(self, name: str) -> Search | None:
        """The search named ``name``, or ``None``."""
        with self._transactions.scope(f"reading search {name!r}", write=False) as session:
            row = session.execute(select(*SEARCHES.c).where(SEARCHES.c.name == name)).one_or_none()
            return None if row is None else search_from_row(row)

    def list_searches(self) -> list[SearchSummary]:
        """Every search, oldest first, with its progress."""
        return self._summaries()

    def search_summary(self, name: str) -> SearchSummary | None:
        """The search named ``name`` with its progress (as ``list_searches`` reports it), or ``None``."""
        found = self._summaries(name)
        return found[0] if found else None

    def _summaries(self, name: str | None = None) -> list[SearchSummary]:
        search_id = SEARCHES.c.id
        of_search = EVALUATIONS.c.search_id == search_id

        def count(*where):
            return select(func.count()).where(of_search, *where).scalar_subquery()

        def total(column, *where):
            return select(func.coalesce(func.sum(column), 0)).where(of_search, *where).scalar_subquery()

        computed = EVALUATIONS.c.reused.is_(False)
        steps_done = select(func.count()).where(STEPS.c.search_id == search_id).scalar_subquery()
        last_score = (
            select(STEPS.c.score)
            .where(STEPS.c.search_id == search_id)
            .order_by(STEPS.c.step_index.desc())
            .limit(1)
            .scalar_subquery()
        )
        statement = select(
            *SEARCHES.c,
            steps_done.label("steps_done"),
            count().label("n_evaluations"),
            count(EVALUATIONS.c.error.is_not(None)).label("failed_evaluations"),
            last_score.label("last_step_score"),
            total(EVALUATIONS.c.computed_tokens).label("computed_tokens"),
            total(EVALUATIONS.c.detail[JUDGE_PROMPT_TOKENS].as_integer(), computed).label("judge_prompt_tokens"),
            total(EVALUATIONS.c.detail[JUDGE_COMPLETION_TOKENS].as_integer(), computed).label(
                "judge_completion_tokens"
            ),
            count(EVALUATIONS.c.reused.is_(True)).label("reused_evaluations"),
        ).order_by(search_id)
        if name is not None:
            statement = statement.where(SEARCHES.c.name == name)
        with self._transactions.scope("listing searches", write=False) as session:
            return [
                SearchSummary(
                    search=search_from_row(row),
                    steps_done=row.steps_done,
                    evaluations=row.n_evaluations,
                    failed_evaluations=row.failed_evaluations,
                    last_step_score=row.last_step_score,
                    computed_tokens=int(row.computed_tokens),
                    judge_prompt_tokens=int(row.judge_prompt_tokens),
                    judge_completion_tokens=int(row.judge_completion_tokens),
                    reused_evaluations=row.reused_evaluations,
                )
                for row in session.execute(statement)
            ]

    def set_status(self, name: str, status: SearchStatus, *, stop_reason: str | None = None) -> Search:
        """Set the search's status; ``finished_at`` is stamped for a final status and cleared otherwise.

        ``stop_reason`` (why the search stopped) is stored when given and cleared when the search runs again.
        """
        status = SearchStatus(status)
        values: dict[str, Any] = dict(
            status=status.value, updated_at=utc_now(), finished_at=utc_now() if status.is_final else None
        )
        if stop_reason is not None or status is SearchStatus.RUNNING:
            values["stop_reason"] = stop_reason
        statement = update(SEARCHES).where(SEARCHES.c.name == name).values(**values).returning(*SEARCHES.c)
        with self._transactions.scope(f"setting the status of search {name!r}", write=True) as session:
            row = session.execute(statement).one_or_none()
            if row is None:
                raise self._not_found(session, name)
            return search_from_row(row)

    # --- pool items and held-out prompts, stored by create_search ------------------------------------------

    def pool_items(self, name: str) -> list[StoredItem]:
        """The search's pool, in position order."""
        return self._items(POOL_ITEMS, "pool items", name)

    def heldout_prompts(self, name: str) -> list[StoredItem]:
        """The search's held-out prompts, in position order."""
        return self._items(HELDOUT_PROMPTS, "held-out prompts", name)

    def _items(self, table: Table, kind: str, name: str) -> list[StoredItem]:
        with self._transactions.scope(f"reading the {kind} of search {name!r}", write=False) as session:
            search_id = self._search_id(session, name)
            statement = select(table.c.item_id, table.c.position, table.c.payload).where(table.c.search_id == search_id)
            return [
                StoredItem(item_id=row.item_id, position=row.position, payload=row.payload)
                for row in session.execute(statement.order_by(table.c.position))
            ]


def item_rows(items: Iterable[StoredItem]) -> list[dict[str, Any]]:
    """The column values of ``items`` (all but the search's id), payloads checked to be JSON."""
    return [
        {
            "item_id": item.item_id,
            "position": item.position,
            "payload": checked_json(item.payload, f"the payload of item {item.item_id}"),
        }
        for item in items
    ]
