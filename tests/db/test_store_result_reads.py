"""The read methods a dashboard needs: one evaluation, every candidate at once, and per-set sums."""

from __future__ import annotations

from db import Candidate, CandidateStatus, Evaluation, Search, SetTotals, Store

UNIT_A = [
    Evaluation("set-a", "prompt-0", 7.0, output="answer 0", detail={"judge_reply": "Rating: [[7]]", "rating": 7},
               prompt_tokens=120, computed_tokens=30, cached_tokens=90),
    Evaluation("set-a", "prompt-1", None, output="?", error="unparsable judgement", prompt_tokens=100,
               computed_tokens=100),
]
UNIT_B = [Evaluation("set-b", "prompt-0", 2.0, prompt_tokens=50, computed_tokens=5, cached_tokens=45)]


def test_one_evaluation_is_read_by_its_pair(store: Store, search: Search) -> None:
    store.record_evaluations("demo", UNIT_A)

    found = store.evaluation("demo", "set-a", "prompt-0")

    assert found is not None and found.created_at is not None
    assert found.__class__(**{**vars(found), "created_at": None}) == UNIT_A[0]
    assert store.evaluation("demo", "set-a", "prompt-2") is None
    assert store.evaluation("demo", "set-b", "prompt-0") is None


def test_set_totals_sum_each_sets_evaluations(store: Store, search: Search) -> None:
    store.record_evaluations("demo", [*UNIT_A, *UNIT_B])

    assert store.set_totals("demo") == [
        SetTotals("set-a", evaluations=2, failed=1, prompt_tokens=220, computed_tokens=130, cached_tokens=90),
        SetTotals("set-b", evaluations=1, failed=0, prompt_tokens=50, computed_tokens=5, cached_tokens=45),
    ]


def test_all_candidates_are_ordered_by_step_then_set_key(store: Store, search: Search) -> None:
    recorded = [
        Candidate(1, "set-z", ("pool-0", "pool-2"), "pool-2", CandidateStatus.SCORED, score=1.0, n_scored=3),
        Candidate(0, "set-base", (), None, CandidateStatus.SCORED, score=0.5, n_scored=3),
        Candidate(1, "set-b", ("pool-0", "pool-1"), "pool-1", CandidateStatus.SKIPPED, reason="too long"),
    ]
    for candidate in recorded:
        store.record_candidate("demo", candidate)

    assert store.all_candidates("demo") == [recorded[1], recorded[2], recorded[0]]


def test_the_reads_work_on_a_read_only_store(store: Store, search: Search, database_url: str) -> None:
    store.record_evaluations("demo", UNIT_B)
    with Store.open(database_url, read_only=True) as reader:
        assert reader.evaluation("demo", "set-b", "prompt-0") is not None
        assert [t.set_key for t in reader.set_totals("demo")] == ["set-b"]
        assert reader.all_candidates("demo") == []
