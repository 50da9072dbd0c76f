"""Helpers shared by the store's tests (a module name unique in the test tree, imported from tests/db)."""

from __future__ import annotations

from sqlalchemy import create_engine, select, update

from db import StoredItem
from db.clock import utc_after
from db.models import LeaseRow, SearchRow


def items(prefix: str, count: int) -> list[StoredItem]:
    """``count`` items ``{prefix}-0``... at positions 0... with text payloads."""
    return [
        StoredItem(f"{prefix}-{index}", index, {"query": f"{prefix} query {index}", "n": index})
        for index in range(count)
    ]


def expire_lease(database_url: str, name: str) -> None:
    """Make the lease of search ``name`` expired a minute ago by the database's clock, as if its holder had died
    and its TTL had run out, without waiting for it."""
    search_id = select(SearchRow.id).where(SearchRow.name == name).scalar_subquery()
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            expired = connection.execute(
                update(LeaseRow).where(LeaseRow.search_id == search_id).values(expires_at=utc_after(-60))
            )
            assert expired.rowcount == 1, f"search {name!r} has no lease to expire"
    finally:
        engine.dispose()
