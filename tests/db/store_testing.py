"""Helpers shared by the store's tests (a module name unique in the test tree, imported from tests/db)."""

from __future__ import annotations

from db import StoredItem


def items(prefix: str, count: int) -> list[StoredItem]:
    """``count`` items ``{prefix}-0``... at positions 0... with text payloads."""
    return [
        StoredItem(item_id=f"{prefix}-{index}", position=index, payload={"query": f"{prefix} query {index}", "n": index})
        for index in range(count)
    ]
