"""The test split: test prompts and test evaluations are stored apart from the held-out ones (never mixed into
what candidates are ranked on), idempotently, and read back in test prompt order."""

from __future__ import annotations

import pytest
from store_testing import items

from db import Evaluation, Search, Store, StoreError


def test_test_prompts_are_stored_once_and_read_in_position_order(store: Store, search: Search) -> None:
    assert store.test_prompts("demo") == []
    assert store.record_test_prompts("demo", reversed(items("test", 3))) == 3
    assert store.record_test_prompts("demo", items("test", 3)) == 0  # a resumed search records them again

    assert [item.item_id for item in store.test_prompts("demo")] == ["test-0", "test-1", "test-2"]
    assert [item.item_id for item in store.heldout_prompts("demo")] == ["prompt-0", "prompt-1", "prompt-2"]


def test_test_evaluations_are_kept_apart_from_the_held_out_evaluations(store: Store, search: Search) -> None:
    store.record_test_prompts("demo", items("test", 2))
    unit = [Evaluation("set-a", "test-1", 0.5, output="b"), Evaluation("set-a", "test-0", None, error="bad")]

    assert store.record_test_evaluations("demo", unit) == 2
    assert store.record_test_evaluations("demo", [Evaluation("set-a", "test-0", 1.0)]) == 0  # the first stays

    assert [(e.prompt_id, e.score, e.error) for e in store.test_evaluations_for("demo", "set-a")] == [
        ("test-0", None, "bad"),
        ("test-1", 0.5, None),
    ]
    assert store.test_evaluated_pairs("demo", ["set-a", "set-b"]) == {("set-a", "test-0"), ("set-a", "test-1")}
    assert store.evaluations_for("demo", "set-a") == []
    assert store.evaluated_pairs("demo", ["set-a"]) == set()
    [summary] = store.list_searches()
    assert summary.evaluations == 0


def test_a_test_evaluation_of_an_unknown_test_prompt_is_refused(store: Store, search: Search) -> None:
    with pytest.raises(StoreError, match="is every prompt_id a test prompt"):
        store.record_test_evaluations("demo", [Evaluation("set-a", "prompt-0", 1.0)])  # a held-out prompt
    assert store.test_evaluated_pairs("demo", ["set-a"]) == set()
