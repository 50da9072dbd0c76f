"""Pool items and held-out prompts: content-addressed, ordered, added idempotently and atomically."""

from __future__ import annotations

import pytest
from store_testing import items

from db import SearchNotFoundError, Store, StoredItem, StoreError


@pytest.fixture
def name(store: Store) -> str:
    store.create_search("items", config={}, fingerprint="f", fingerprint_parts={})
    return "items"


def test_pool_and_heldout_round_trip_in_position_order(store: Store, name: str) -> None:
    pool = items("pool", 5)
    prompts = [StoredItem("q-b", 1, {"turns": ["second", "follow-up"]}), StoredItem("q-a", 0, {"turns": ["首先"]})]

    assert store.add_pool_items(name, reversed(pool)) == 5
    assert store.add_heldout_prompts(name, prompts) == 2

    assert store.pool_items(name) == pool
    assert store.heldout_prompts(name) == sorted(prompts, key=lambda item: item.position)


def test_adding_again_is_idempotent_and_adds_only_new_items(store: Store, name: str) -> None:
    store.add_pool_items(name, items("pool", 3))

    assert store.add_pool_items(name, items("pool", 3)) == 0
    assert store.add_pool_items(name, items("pool", 5)) == 2
    assert store.add_pool_items(name, []) == 0
    assert [item.item_id for item in store.pool_items(name)] == [f"pool-{index}" for index in range(5)]


def test_pool_and_heldout_sets_are_separate_per_search(store: Store, name: str) -> None:
    store.create_search("other", config={}, fingerprint="f", fingerprint_parts={})
    store.add_pool_items(name, items("shared", 2))
    store.add_heldout_prompts("other", items("shared", 1))

    assert len(store.pool_items(name)) == 2
    assert store.heldout_prompts(name) == []
    assert store.pool_items("other") == []
    assert len(store.heldout_prompts("other")) == 1


def test_a_batch_with_a_taken_position_stores_nothing(store: Store, name: str) -> None:
    store.add_pool_items(name, items("pool", 2))
    clash = [StoredItem("new-0", 2, {}), StoredItem("new-1", 1, {"text": "position 1 belongs to pool-1"})]

    with pytest.raises(StoreError, match="adding pool items to search 'items'.*constraint"):
        store.add_pool_items(name, clash)

    assert [item.item_id for item in store.pool_items(name)] == ["pool-0", "pool-1"]


def test_items_of_an_unknown_search(store: Store) -> None:
    with pytest.raises(SearchNotFoundError):
        store.add_pool_items("nope", items("pool", 1))
    with pytest.raises(SearchNotFoundError):
        store.heldout_prompts("nope")


def test_item_values_are_checked_before_reaching_the_database() -> None:
    with pytest.raises(ValueError, match="position of item a must be >= 0, got -1"):
        StoredItem("a", -1, {})
    with pytest.raises(ValueError, match="item_id must be at most 128 characters"):
        StoredItem("x" * 129, 0, {})
    with pytest.raises(ValueError, match="item_id must be a non-empty string"):
        StoredItem("", 0, {})
