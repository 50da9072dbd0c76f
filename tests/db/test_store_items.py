"""Creating a search with its pool and held-out prompts: content-addressed, ordered, and all or nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from store_testing import items

from db import SearchExistsError, SearchNotFoundError, Store, StoredItem, StoreError

CREATOR = Path(__file__).with_name("store_creator.py")


def create(store: Store, name: str, *, pool: list[StoredItem], prompts: list[StoredItem]) -> None:
    store.create_search(
        name, config={}, fingerprint="f", fingerprint_parts={}, pool_items=pool, heldout_prompts=prompts
    )


def assert_no_trace(store: Store, name: str) -> None:
    assert store.find_search(name) is None
    assert store.list_searches() == []
    with pytest.raises(SearchNotFoundError):
        store.pool_items(name)


def test_pool_and_heldout_round_trip_in_position_order(store: Store) -> None:
    pool = items("pool", 5)
    prompts = [StoredItem("q-b", 1, {"turns": ["second", "follow-up"]}), StoredItem("q-a", 0, {"turns": ["首先"]})]

    create(store, "items", pool=list(reversed(pool)), prompts=prompts)

    assert store.pool_items("items") == pool
    assert store.heldout_prompts("items") == sorted(prompts, key=lambda item: item.position)


def test_a_search_may_be_created_without_items(store: Store) -> None:
    store.create_search("bare", config={}, fingerprint="f", fingerprint_parts={})

    assert store.pool_items("bare") == [] and store.heldout_prompts("bare") == []


def test_pool_and_heldout_sets_are_separate_per_search(store: Store) -> None:
    create(store, "one", pool=items("shared", 2), prompts=[])
    create(store, "other", pool=[], prompts=items("shared", 1))

    assert len(store.pool_items("one")) == 2
    assert store.heldout_prompts("one") == []
    assert store.pool_items("other") == []
    assert len(store.heldout_prompts("other")) == 1


@pytest.mark.parametrize(
    ("pool", "prompts", "message"),
    [
        pytest.param(items("pool", 2), [*items("prompt", 2), StoredItem("late", 1, {})], "constraint", id="position"),
        pytest.param([*items("pool", 2), StoredItem("pool-0", 7, {})], items("prompt", 1), "constraint", id="item-id"),
        pytest.param(items("pool", 2), [StoredItem("nan", 0, {"x": float("nan")})], "not storable as JSON", id="json"),
    ],
)
def test_a_failed_creation_leaves_no_trace_and_can_be_retried(
    store: Store, pool: list[StoredItem], prompts: list[StoredItem], message: str
) -> None:
    with pytest.raises(StoreError, match=message) as failed:
        create(store, "atomic", pool=pool, prompts=prompts)

    assert not isinstance(failed.value, SearchExistsError)
    assert_no_trace(store, "atomic")
    create(store, "atomic", pool=items("pool", 2), prompts=items("prompt", 2))
    assert [item.item_id for item in store.heldout_prompts("atomic")] == ["prompt-0", "prompt-1"]


@pytest.mark.parametrize("killed_before", ["pool_items", "heldout_prompts"])
def test_a_process_killed_while_creating_leaves_no_trace(store: Store, database_url: str, killed_before: str) -> None:
    done = subprocess.run(
        [sys.executable, str(CREATOR), database_url, "killed", killed_before],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert_no_trace(store, "killed")
    create(store, "killed", pool=items("pool", 3), prompts=items("prompt", 2))
    assert len(store.pool_items("killed")) == 3 and len(store.heldout_prompts("killed")) == 2


def test_items_of_an_unknown_search(store: Store) -> None:
    with pytest.raises(SearchNotFoundError):
        store.pool_items("nope")
    with pytest.raises(SearchNotFoundError):
        store.heldout_prompts("nope")


def test_item_values_are_checked_before_reaching_the_database() -> None:
    with pytest.raises(ValueError, match="position of item a must be >= 0, got -1"):
        StoredItem("a", -1, {})
    with pytest.raises(ValueError, match="item_id must be at most 128 characters"):
        StoredItem("x" * 129, 0, {})
    with pytest.raises(ValueError, match="item_id must be a non-empty string"):
        StoredItem("", 0, {})
