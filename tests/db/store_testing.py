"""Helpers shared by the store's tests (a module name unique in the test tree, imported from tests/db)."""

from __future__ import annotations

from db import StoredItem


def items(prefix: str, count: int) -> list[StoredItem]:
    """``count`` items ``{prefix}-0``... at positions 0... with text payloads."""
    return [
        StoredItem(f"{prefix}-{index}", index, {"query": f"{prefix} query {index}", "n": index})
        for index in range(count)
    ]
