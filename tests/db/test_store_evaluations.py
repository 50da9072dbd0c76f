"""Evaluations: one unit per transaction, keyed by (set, prompt), never duplicated when a unit is re-sent."""

from __future__ import annotations

import pytest

from db import Evaluation, Search, Store, StoreError

UNIT = [
    Evaluation(
        "set-a",
        "prompt-0",
        0.75,
        output="Ответ: 42 ✓",
        detail={"judge_reply": "Rating: [[7.5]]", "rating": 7.5},
        prompt_tokens=120,
        computed_tokens=30,
        cached_tokens=90,
    ),
    Evaluation("set-a", "prompt-1", -1.25, prompt_tokens=100, computed_tokens=100),
    Evaluation("set-a", "prompt-2", None, output="no rating here", error="judge reply had no [[rating]]"),
]


def test_round_trip_of_every_field_in_prompt_order(store: Store, search: Search) -> None:
    assert store.record_evaluations("demo", reversed(UNIT)) == 3

    stored = store.evaluations_for("demo", "set-a")

    assert [evaluation.prompt_id for evaluation in stored] == ["prompt-0", "prompt-1", "prompt-2"]
    assert all(evaluation.created_at is not None for evaluation in stored)
    assert [evaluation.__class__(**{**vars(evaluation), "created_at": None}) for evaluation in stored] == UNIT
    assert store.evaluations_for("demo", "set-unknown") == []


def test_re_recording_a_unit_stores_nothing_twice(store: Store, search: Search) -> None:
    store.record_evaluations("demo", UNIT[:2])
    changed_score = Evaluation("set-a", "prompt-0", 0.0)

    assert store.record_evaluations("demo", UNIT) == 1  # only prompt-2 was new
    assert store.record_evaluations("demo", UNIT) == 0
    assert store.record_evaluations("demo", [changed_score]) == 0
    assert store.record_evaluations("demo", []) == 0

    stored = store.evaluations_for("demo", "set-a")
    assert len(stored) == 3
    assert stored[0].score == 0.75  # the first result stays
    [summary] = store.list_searches()
    assert summary.evaluations == 3
    assert summary.computed_tokens == sum(e.computed_tokens for e in UNIT)


def test_evaluated_pairs_reports_only_stored_pairs_of_the_given_sets(store: Store, search: Search) -> None:
    store.record_evaluations("demo", UNIT[:2])
    store.record_evaluations("demo", [Evaluation("set-b", "prompt-2", 1.0)])
    store.record_evaluations("demo", [Evaluation("set-c", "prompt-0", 1.0)])

    assert store.evaluated_pairs("demo", ["set-a", "set-b", "set-x"]) == {
        ("set-a", "prompt-0"),
        ("set-a", "prompt-1"),
        ("set-b", "prompt-2"),
    }
    assert store.evaluated_pairs("demo", []) == set()


def test_evaluated_pairs_handles_more_set_keys_than_one_statement_binds(store: Store, search: Search) -> None:
    keys = [f"set-{index:04d}" for index in range(1203)]
    store.record_evaluations("demo", [Evaluation(key, "prompt-0", 1.0) for key in keys[::100]])

    assert store.evaluated_pairs("demo", keys) == {(key, "prompt-0") for key in keys[::100]}


def test_a_unit_with_an_unknown_prompt_stores_nothing(store: Store, search: Search) -> None:
    broken_unit = [*UNIT, Evaluation("set-a", "not-a-heldout-prompt", 1.0)]

    with pytest.raises(StoreError, match=r"recording 4 evaluations of search 'demo' \(is every prompt_id"):
        store.record_evaluations("demo", broken_unit)

    assert store.evaluated_pairs("demo", ["set-a"]) == set()


def test_a_unit_whose_detail_is_not_json_stores_nothing(store: Store, search: Search) -> None:
    broken_unit = [UNIT[0], Evaluation("set-a", "prompt-1", 1.0, detail={"logprob": float("nan")})]

    with pytest.raises(StoreError, match=r"detail of evaluation \(set-a, prompt-1\) is not storable as JSON"):
        store.record_evaluations("demo", broken_unit)

    assert store.evaluated_pairs("demo", ["set-a"]) == set()


def test_evaluation_values_are_checked() -> None:
    with pytest.raises(ValueError, match=r"score of evaluation \(s, p\) must be a finite number or None, got nan"):
        Evaluation("s", "p", float("nan"))
    with pytest.raises(ValueError, match=r"cached_tokens of evaluation \(s, p\) must be >= 0, got -1"):
        Evaluation("s", "p", 1.0, cached_tokens=-1)
    with pytest.raises(ValueError, match="prompt_id of the evaluation of set s must be a non-empty string"):
        Evaluation("s", "", 1.0)


def test_nul_characters_in_generated_text_are_stored_as_replacement_characters(store: Store, search: Search) -> None:
    odd = Evaluation("set-a", "prompt-0", 0.0, output="ab\x00c", error="bad \x00 byte")

    assert store.record_evaluations("demo", [odd]) == 1

    (stored,) = store.evaluations_for("demo", "set-a")
    assert (stored.output, stored.error) == ("ab\ufffdc", "bad \ufffd byte")
