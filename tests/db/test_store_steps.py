"""Candidates of a step (upserted) and steps (written once, re-recording the same outcome is a no-op)."""

from __future__ import annotations

import pytest

from db import Candidate, CandidateStatus, RecordConflictError, Search, Step, Store, StoreError


def scored(step: int, item: str, score: float, base: tuple[str, ...] = ()) -> Candidate:
    return Candidate(
        step_index=step,
        set_key=f"set-{step}-{item}",
        demo_ids=(*base, item),
        added_item_id=item,
        status=CandidateStatus.SCORED,
        score=score,
        stderr=0.05,
        n_scored=3,
    )


def test_candidates_round_trip_per_step(store: Store, search: Search) -> None:
    first = [scored(0, "pool-2", 0.4), scored(0, "pool-0", 0.9)]
    skipped = Candidate(
        0, "set-0-pool-3", ("pool-3",), "pool-3", CandidateStatus.SKIPPED, reason="prompt 2 needs 2100 > 2048 tokens"
    )
    baseline = Candidate(1, "set-random", ("pool-1", "pool-0"), None, CandidateStatus.FAILED, reason="engine died")
    for candidate in [*first, skipped, baseline]:
        store.record_candidate("demo", candidate)

    assert store.candidates_of_step("demo", 0) == sorted([*first, skipped], key=lambda c: c.set_key)
    assert store.candidates_of_step("demo", 1) == [baseline]
    assert store.candidates_of_step("demo", 2) == []


def test_recording_a_candidate_again_overwrites_it(store: Store, search: Search) -> None:
    failed = Candidate(0, "set-0-pool-1", ("pool-1",), "pool-1", CandidateStatus.FAILED, reason="actor lost")
    store.record_candidate("demo", failed)
    rescored = scored(0, "pool-1", 0.7)

    store.record_candidate("demo", rescored)

    assert store.candidates_of_step("demo", 0) == [rescored]


def test_a_candidate_must_add_an_item_of_the_pool(store: Store, search: Search) -> None:
    with pytest.raises(StoreError, match="is its added item in the search's pool"):
        store.record_candidate("demo", scored(0, "not-in-pool", 0.5))
    assert store.candidates_of_step("demo", 0) == []


def test_steps_round_trip_in_order_and_are_idempotent(store: Store, search: Search) -> None:
    store.record_candidate("demo", scored(0, "pool-0", 0.9))
    store.record_candidate("demo", scored(0, "pool-2", 0.4))
    store.record_candidate("demo", scored(1, "pool-1", 0.95, base=("pool-0",)))
    step0 = Step(0, "set-0-pool-0", "pool-0", 0.9, 0.05, "set-0-pool-2", "pool-2", 0.4)
    step1 = Step(1, "set-1-pool-1", "pool-1", 0.95)

    stored1 = store.record_step("demo", step1)
    stored0 = store.record_step("demo", step0)

    assert store.steps("demo") == [stored0, stored1]
    assert stored0.same_outcome(step0) and stored0.created_at is not None
    assert store.record_step("demo", step0) == stored0  # a resumed driver records the same step again
    assert len(store.steps("demo")) == 2


def test_a_different_outcome_for_a_recorded_step_is_refused(store: Store, search: Search) -> None:
    store.record_candidate("demo", scored(0, "pool-0", 0.9))
    store.record_candidate("demo", scored(0, "pool-2", 0.4))
    store.record_step("demo", Step(0, "set-0-pool-0", "pool-0", 0.9))

    with pytest.raises(RecordConflictError, match="step 0 of search 'demo' is already recorded"):
        store.record_step("demo", Step(0, "set-0-pool-2", "pool-2", 0.4))

    assert [step.set_key for step in store.steps("demo")] == ["set-0-pool-0"]


def test_a_step_must_choose_a_recorded_candidate_of_that_step(store: Store, search: Search) -> None:
    store.record_candidate("demo", scored(0, "pool-0", 0.9))

    with pytest.raises(StoreError, match="is set set-0-pool-0 a candidate of it"):
        store.record_step("demo", Step(1, "set-0-pool-0", "pool-0", 0.9))
    assert store.steps("demo") == []


def test_candidate_and_step_values_are_checked() -> None:
    with pytest.raises(ValueError, match="has status 'scored' but no score"):
        Candidate(0, "k", ("a",), "a", CandidateStatus.SCORED)
    with pytest.raises(ValueError, match="has status 'skipped' but no reason"):
        Candidate(0, "k", ("a",), "a", CandidateStatus.SKIPPED)
    with pytest.raises(ValueError, match="'maybe' is not a valid CandidateStatus"):
        Candidate(0, "k", ("a",), "a", "maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="score of step 0 must be a finite number"):
        Step(0, "k", "a", float("inf"))
    with pytest.raises(ValueError, match="step_index of step -1 must be >= 0"):
        Step(-1, "k", "a", 0.5)
