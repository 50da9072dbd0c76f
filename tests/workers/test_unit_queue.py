"""The dispatcher's unit queue, without Ray: affinity to a warmed prefix, retries, and one result per unit."""

from __future__ import annotations

import pytest

from workers.dispatch_stats import DispatchStats, StatsTally
from workers.errors import ContextLengthError
from workers.tree import Branch, CallStats, Leaf, PrefixTree, ScoreResult
from workers.unit_queue import RetryPolicy, UnitQueue
from workers.units import WorkUnit

PREFIX_A, PREFIX_B = (1, 10, 11), (1, 20, 21)


def unit(unit_id: str, prefix: tuple[int, ...] = PREFIX_A) -> WorkUnit:
    return WorkUnit(unit_id, "score", PrefixTree(prefix, (Branch(f"c-{unit_id}", (5, 6)),), (Leaf("q", (7,), (8,)),)))


def result(computed: int = 3, cached: int = 2) -> ScoreResult:
    stats = CallStats(wall_time_s=0.1, prompt_tokens=computed + cached, computed_tokens=computed, cached_tokens=cached)
    return ScoreResult((), stats)


def queue_of(units: list[WorkUnit], max_attempts: int = 3) -> tuple[UnitQueue, StatsTally]:
    tally = StatsTally()
    return UnitQueue(units, RetryPolicy(max_attempts), tally), tally


def test_a_free_actor_gets_a_unit_with_the_prefix_it_warmed_else_the_first_one():
    queue, _ = queue_of([unit("a0"), unit("b0", PREFIX_B), unit("a1"), unit("b1", PREFIX_B)])
    assert queue.hand_out(PREFIX_B).unit_id == "b0"
    assert queue.hand_out(None).unit_id == "a0"
    assert queue.hand_out((9, 9)).unit_id == "a1"  # nothing with that prefix: the first queued
    assert queue.hand_out(PREFIX_A).unit_id == "b1"
    assert not queue.has_pending
    with pytest.raises(IndexError):
        queue.hand_out(None)


def test_each_result_is_yielded_once_with_its_attempts_and_the_tokens_are_counted():
    units = [unit("u0"), unit("u1"), unit("u2")]
    queue, tally = queue_of(units)
    sent = [queue.hand_out(None) for _ in units]
    queue.succeeded(sent[1], result(3, 2), "engine-1")
    queue.succeeded(sent[0], result(4, 1), "engine-0", extra_attempts=1)  # Ray re-ran it on a restarted actor

    first = list(queue.results())
    assert [(r.unit_id, r.ok, r.attempts, r.actor) for r in first] == [
        ("u1", True, 1, "engine-1"),
        ("u0", True, 2, "engine-0"),
    ]
    assert list(queue.results()) == [] and queue.not_yielded() == ["u2"] and not queue.all_yielded

    queue.succeeded(sent[2], result(1, 0), "engine-0")
    assert [r.unit_id for r in queue.results()] == ["u2"] and queue.all_yielded
    assert tally.stats == DispatchStats(units_done=3, prompt_tokens=11, computed_tokens=8, cached_tokens=3)


def test_a_failing_unit_goes_back_to_the_head_of_the_queue_until_it_has_had_max_attempts():
    queue, tally = queue_of([unit("u0"), unit("u1")], max_attempts=3)
    for attempt in (1, 2):
        sent = queue.hand_out(None)
        assert sent.unit_id == "u0" and queue.attempts("u0") == attempt
        queue.attempt_failed(sent, "engine-0", "RuntimeError: boom", RuntimeError("boom"))
        assert list(queue.results()) == []
    sent = queue.hand_out(None)
    queue.attempt_failed(sent, "engine-1", "RuntimeError: boom", RuntimeError("boom"))

    (failed,) = queue.results()
    assert (failed.unit_id, failed.ok, failed.attempts, failed.actor, failed.error) == (
        "u0", False, 3, "engine-1", "RuntimeError: boom"
    )
    assert queue.hand_out(None).unit_id == "u1"
    assert tally.stats == DispatchStats(units_failed=1, retries=2)


def test_a_context_length_error_is_never_retried_and_a_lost_actor_always_is_within_the_limit():
    queue, tally = queue_of([unit("long"), unit("lost")], max_attempts=2)
    long = queue.hand_out(None)
    queue.attempt_failed(long, "engine-0", "ContextLengthError: too long", ContextLengthError("too long"))
    (failed,) = queue.results()
    assert failed.unit_id == "long" and failed.attempts == 1 and not failed.ok

    lost = queue.hand_out(None)
    queue.attempt_failed(lost, "engine-0", "actor engine-0 died: ActorDiedError: gone")  # no cause: the actor
    assert queue.has_pending and queue.hand_out(None).unit_id == "lost" and queue.attempts("lost") == 2
    assert tally.stats.retries == 1 and tally.stats.units_failed == 1


def test_retry_policy():
    policy = RetryPolicy(2)
    assert policy.retries(1, RuntimeError()) and policy.retries(1, None)
    assert not policy.retries(2, RuntimeError()) and not policy.retries(1, ContextLengthError("x"))
    with pytest.raises(ValueError, match="max_attempts must be >= 1, got 0"):
        RetryPolicy(0)


def test_unit_ids_must_be_unique():
    with pytest.raises(ValueError, match=r"duplicates \['a'\]"):
        queue_of([unit("a"), unit("b"), unit("a")])
