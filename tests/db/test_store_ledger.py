"""The evaluation ledger: entries by content key, shared by every search of the database; reused evaluations."""

from __future__ import annotations

from db import Evaluation, LedgerEntry, Store


def test_entries_are_found_by_key_and_a_key_keeps_its_first_entry(store: Store) -> None:
    first = LedgerEntry("k" * 64, 0.5, output="item a", detail={"rating": 5.0}, prompt_tokens=40)

    assert store.remember([first, LedgerEntry("j" * 64, None, prompt_tokens=3)]) == 2
    assert store.remember([LedgerEntry("k" * 64, 0.9, output="other", prompt_tokens=1)]) == 0

    found = store.ledger_entries(["k" * 64, "j" * 64, "missing"])
    assert found == {"k" * 64: first, "j" * 64: LedgerEntry("j" * 64, None, prompt_tokens=3)}
    assert store.ledger_entries([]) == {}


def test_many_keys_are_looked_up_in_chunks(store: Store) -> None:
    keys = [f"{i:064d}" for i in range(1_200)]
    store.remember(LedgerEntry(key, float(i), prompt_tokens=i) for i, key in enumerate(keys))

    found = store.ledger_entries(keys + ["absent"])

    assert len(found) == 1_200 and found[keys[1_100]].score == 1_100.0


def test_reused_evaluations_are_kept_and_counted_apart_from_the_judges_spending(store: Store, search) -> None:
    judged = {"judge_prompt_tokens": 100, "judge_completion_tokens": 10}
    store.record_evaluations("demo", [
        Evaluation("set-a", "prompt-0", 1.0, detail=judged, prompt_tokens=5, computed_tokens=5),
        Evaluation("set-a", "prompt-1", 0.5, detail=judged, prompt_tokens=5, reused=True),
    ])

    (summary,) = store.list_searches()
    assert [e.reused for e in store.evaluations_for("demo", "set-a")] == [False, True]
    assert (summary.evaluations, summary.reused_evaluations) == (2, 1)
    assert (summary.judge_prompt_tokens, summary.judge_completion_tokens) == (100, 10)
