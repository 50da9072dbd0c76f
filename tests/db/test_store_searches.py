"""Searches: create, read, list with progress, status changes."""

from __future__ import annotations

from datetime import UTC

import pytest

from db import (
    Candidate,
    CandidateStatus,
    Evaluation,
    SearchExistsError,
    SearchNotFoundError,
    SearchStatus,
    Step,
    Store,
    StoreError,
)


def test_create_and_get_round_trip(store: Store) -> None:
    config = {"model": {"name": "tiny", "dtype": "float32"}, "strategy": {"max_steps": 3}, "text": "naïve ✓"}
    created = store.create_search("alpha", config=config, fingerprint="abc", fingerprint_parts={"model": "h1"})

    assert created.name == "alpha"
    assert created.status is SearchStatus.CREATED
    assert created.finished_at is None
    assert created.created_at.tzinfo is UTC
    assert store.get_search("alpha") == created
    assert store.find_search("alpha") == created
    assert store.get_search("alpha").config == config
    assert store.get_search("alpha").fingerprint_parts == {"model": "h1"}


def test_duplicate_name_is_refused_and_keeps_the_first(store: Store) -> None:
    store.create_search("alpha", config={"v": 1}, fingerprint="one", fingerprint_parts={})

    with pytest.raises(SearchExistsError, match="'alpha' already exists .*status created"):
        store.create_search("alpha", config={"v": 2}, fingerprint="two", fingerprint_parts={})

    assert store.get_search("alpha").fingerprint == "one"
    assert len(store.list_searches()) == 1


def test_unknown_search_suggests_close_names(store: Store) -> None:
    store.create_search("greedy-run", config={}, fingerprint="f", fingerprint_parts={})

    assert store.find_search("greedy-rn") is None
    with pytest.raises(SearchNotFoundError, match="did you mean 'greedy-run'"):
        store.get_search("greedy-rn")
    with pytest.raises(SearchNotFoundError, match="no search named 'other'"):
        store.steps("other")


def test_search_name_must_fit(store: Store) -> None:
    with pytest.raises(StoreError, match="1 to 200 characters"):
        store.create_search("", config={}, fingerprint="f", fingerprint_parts={})
    with pytest.raises(StoreError, match="1 to 200 characters"):
        store.create_search("x" * 201, config={}, fingerprint="f", fingerprint_parts={})


def test_set_status_stamps_finished_at_for_final_states_only(store: Store) -> None:
    created = store.create_search("alpha", config={}, fingerprint="f", fingerprint_parts={})

    running = store.set_status("alpha", SearchStatus.RUNNING)
    assert running.status is SearchStatus.RUNNING
    assert running.finished_at is None
    assert running.updated_at >= created.updated_at

    finished = store.set_status("alpha", SearchStatus.FINISHED)
    assert finished.finished_at is not None
    assert finished.finished_at >= running.updated_at

    resumed = store.set_status("alpha", "running")  # type: ignore[arg-type]
    assert resumed.status is SearchStatus.RUNNING
    assert resumed.finished_at is None
    assert store.get_search("alpha") == resumed

    with pytest.raises(SearchNotFoundError):
        store.set_status("missing", SearchStatus.FAILED)
    with pytest.raises(ValueError, match="'paused' is not a valid SearchStatus"):
        store.set_status("alpha", "paused")  # type: ignore[arg-type]


def test_list_searches_reports_progress(store: Store, search) -> None:
    store.create_search("empty", config={}, fingerprint="f", fingerprint_parts={})
    store.record_evaluations(
        "demo",
        [
            Evaluation("set-a", "prompt-0", 1.0, detail={"judge_prompt_tokens": 900, "judge_completion_tokens": 80}),
            Evaluation("set-a", "prompt-1", None, error="judge reply had no [[rating]]",
                       detail={"judge_prompt_tokens": 1100, "judge_completion_tokens": 20}),
            Evaluation("set-a", "prompt-2", 0.0, detail={"judge_prompt_tokens": None}),
        ],
    )
    candidate = Candidate(0, "set-a", ("pool-1",), "pool-1", CandidateStatus.SCORED, score=0.5, n_scored=2)
    store.record_candidate("demo", candidate)
    store.record_step("demo", Step(0, "set-a", "pool-1", 0.5))
    store.set_status("demo", SearchStatus.INTERRUPTED)

    summaries = {summary.search.name: summary for summary in store.list_searches()}

    assert [summary.search.name for summary in store.list_searches()] == ["demo", "empty"]
    demo = summaries["demo"]
    assert (demo.search.status, demo.steps_done, demo.evaluations, demo.failed_evaluations) == (
        SearchStatus.INTERRUPTED,
        1,
        3,
        1,
    )
    assert demo.last_step_score == 0.5
    assert (demo.judge_prompt_tokens, demo.judge_completion_tokens) == (2000, 100)
    empty = summaries["empty"]
    assert (empty.steps_done, empty.evaluations, empty.failed_evaluations, empty.last_step_score) == (0, 0, 0, None)
    assert (empty.judge_prompt_tokens, empty.judge_completion_tokens) == (0, 0)
    assert store.search_summary("demo") == demo and store.search_summary("empty") == empty
    assert store.search_summary("absent") is None


def test_rules_fixed_demonstrations_and_stop_reason_are_kept_with_the_search(store: Store) -> None:
    fixed = [{"id": "f1", "turns": [{"query": "q ✓", "answer": "a"}]}, {"id": "f2", "turns": []}]
    created = store.create_search(
        "alpha", config={}, fingerprint="f", fingerprint_parts={}, rules="# Instruction\n\nBe kind.", fixed_demos=fixed
    )
    assert created.rules == "# Instruction\n\nBe kind." and created.fixed_demos == tuple(fixed)
    assert created.stop_reason is None

    stopped = store.set_status("alpha", SearchStatus.FINISHED, stop_reason="max_steps (3) reached")
    assert stopped.stop_reason == "max_steps (3) reached"
    assert store.set_status("alpha", SearchStatus.FINISHED).stop_reason == "max_steps (3) reached"
    assert store.set_status("alpha", SearchStatus.RUNNING).stop_reason is None
