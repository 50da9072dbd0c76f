"""The invariant check of stored searches (``tests.support.search_invariants``) and the plugin that runs it.

The check must pass on what the driver stores and fail on each kind of row the driver must never write; the
plugin must find the databases a test leaves and count what it checked. Searches written by hand to break an
invariant are marked ``hand_written_searches`` so that the plugin leaves them to these tests.
"""

from __future__ import annotations

import sqlite3
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from db import Candidate, CandidateStatus, Evaluation, Step, Store, StoredItem
from tests.support.fake_dispatcher import ScoreTable
from tests.support.invariant_plugin import InvariantWatcher, check_database, sqlite_files
from tests.support.search_invariants import assert_search_invariants
from tests.support.toy_search import ToySearch, toy_problem

PROMPTS = ("p0", "p1")
POOL = ("a", "b", "c")


@dataclass(frozen=True)
class Row:
    """A candidate written by hand: its demonstrations, its per-prompt scores, and what to store instead."""

    demo_ids: tuple[str, ...]
    scores: tuple[float | None, ...]
    score: float | None = None
    n_scored: int | None = None
    reason: str | None = None

    @property
    def key(self) -> str:
        return "set-" + "".join(self.demo_ids)


def write_search(
    store: Store, steps: Sequence[Sequence[Row]], chosen: Sequence[int], *, width: int = 1, name: str = "hand"
) -> None:
    """Store a search whose step ``i`` has the candidates ``steps[i]`` and chose ``steps[i][chosen[i]]``
    (the runner-up recorded is the best other candidate by mean); steps past ``len(chosen)`` are not recorded."""
    kind = "beam" if width > 1 else "greedy"
    store.create_search(name, config={"strategy": {"kind": kind, "beam_width": width}}, fingerprint="f",
                        fingerprint_parts={},
                        pool_items=[StoredItem(item, i, {}) for i, item in enumerate(POOL)],
                        heldout_prompts=[StoredItem(prompt, i, {}) for i, prompt in enumerate(PROMPTS)])
    for index, rows in enumerate(steps):
        stored = {}
        for row in rows:
            store.record_evaluations(name, [
                Evaluation(row.key, prompt, score, error=None if score is not None else "unparsable judgement")
                for prompt, score in zip(PROMPTS, row.scores, strict=True)
            ])
            parsed = [s for s in row.scores if s is not None]
            excluded = len(row.scores) - len(parsed)
            candidate = Candidate(
                step_index=index, set_key=row.key, demo_ids=row.demo_ids,
                added_item_id=row.demo_ids[-1] if row.demo_ids else None, status=CandidateStatus.SCORED,
                score=statistics.fmean(parsed) if row.score is None else row.score,
                stderr=statistics.stdev(parsed) / len(parsed) ** 0.5 if len(parsed) > 1 else 0.0,
                n_scored=len(parsed) if row.n_scored is None else row.n_scored,
                reason=row.reason or (f"{excluded} failed evaluation(s) excluded" if excluded else None),
            )
            store.record_candidate(name, candidate)
            stored[row.key] = candidate
        if index < len(chosen):
            best = stored[rows[chosen[index]].key]
            others = sorted((c for c in stored.values() if c is not best), key=lambda c: -c.score)
            runner = others[0] if others else None
            store.record_step(name, Step(
                step_index=index, set_key=best.set_key, item_id=best.added_item_id, score=best.score,
                stderr=best.stderr, runner_up_set_key=runner.set_key if runner else None,
                runner_up_item_id=runner.added_item_id if runner else None,
                runner_up_score=runner.score if runner else None,
            ))


BASE = [Row((), (0.25, 0.25))]


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(f"sqlite:///{tmp_path / 'hand.db'}") as opened:
        yield opened


def test_a_search_written_by_the_rules_passes_and_the_check_counts_what_it_read(store: Store) -> None:
    step_1 = [Row(("a",), (0.5, 0.75)), Row(("b",), (1.0, None)), Row(("c",), (0.5, 0.25))]
    write_search(store, [BASE, step_1, [Row(("b", "a"), (1.0, 1.0))]], chosen=[0, 1])

    check = assert_search_invariants(store, "hand")

    assert (check.steps, check.candidates, check.evaluations) == (2, 5, 10)


@pytest.mark.hand_written_searches
@pytest.mark.parametrize(
    ("step_1", "chosen", "problem"),
    [
        pytest.param(
            [Row(("a",), (0.5, 0.75), score=0.6)], 0,
            "step 1, set set-a ['a']: score 0.6, but the mean of its scored evaluations is 0.625",
            id="score-not-the-mean",
        ),
        pytest.param(
            [Row(("a",), (0.5, None), n_scored=2)], 0,
            "step 1, set set-a ['a']: n_scored 2, but 1 stored evaluations have a score",
            id="n_scored",
        ),
        pytest.param(
            [Row(("a",), (0.5, None), reason="all fine")], 0,
            "step 1, set set-a ['a']: 1 evaluation(s) without a score, but its reason is 'all fine'",
            id="excluded-count-not-named",
        ),
        pytest.param(
            [Row(("a",), (0.5, 0.5)), Row(("b",), (0.75, 0.75))], 0,
            "step 1 chose set set-a, but the tie rule ranks set-b first",
            id="not-the-arg-max",
        ),
        pytest.param(
            [Row(("a",), (0.5, 0.5)), Row(("b",), (0.5, 0.5))], 1,
            "step 1 chose set set-b, but the tie rule ranks set-a first",
            id="tie-against-the-pool-order",
        ),
    ],
)
def test_each_broken_invariant_is_named(store: Store, step_1: list[Row], chosen: int, problem: str) -> None:
    write_search(store, [BASE, step_1], chosen=[0, chosen])

    with pytest.raises(AssertionError) as broken:
        assert_search_invariants(store, "hand")

    assert problem in str(broken.value)


@pytest.mark.hand_written_searches
def test_a_tie_goes_to_the_child_of_the_better_parent_beam(store: Store) -> None:
    step_1 = [Row(("b",), (0.75, 0.75)), Row(("a",), (0.5, 0.5)), Row(("c",), (0.25, 0.25))]
    # ba and ab tie; ab adds the earlier pool item, but ba extends b, which ranked first in step 1.
    step_2 = [Row(("a", "b"), (1.0, 1.0)), Row(("b", "a"), (1.0, 1.0))]
    write_search(store, [BASE, step_1, step_2], chosen=[0, 0, 1], width=2)
    assert assert_search_invariants(store, "hand").steps == 3

    write_search(store, [BASE, step_1, step_2], chosen=[0, 0, 0], width=2, name="wrong")
    with pytest.raises(AssertionError, match="step 2 chose set set-ab, but the tie rule ranks set-ba first"):
        assert_search_invariants(store, "wrong")


@pytest.mark.hand_written_searches
def test_a_candidate_that_extends_a_set_that_did_not_survive_is_named(store: Store) -> None:
    step_1 = [Row(("a",), (0.75, 0.75)), Row(("b",), (0.5, 0.5))]
    write_search(store, [BASE, step_1, [Row(("b", "c"), (1.0, 1.0))]], chosen=[0, 0, 0])

    with pytest.raises(AssertionError, match=r"its parent set \['b'\] is not one of the 1 best of step 1"):
        assert_search_invariants(store, "hand")


@pytest.mark.hand_written_searches
def test_candidates_two_steps_past_the_last_recorded_step_are_named(store: Store) -> None:
    write_search(store, [BASE, [Row(("a",), (0.5, 0.5))], [Row(("a", "b"), (1.0, 1.0))]], chosen=[0])

    with pytest.raises(AssertionError, match="step 2 has candidates but step 1 was never recorded"):
        assert_search_invariants(store, "hand")


# --- the plugin -----------------------------------------------------------------------------------------------


def test_the_plugin_is_registered(request: pytest.FixtureRequest) -> None:
    assert request.config.pluginmanager.has_plugin("tests.support.invariant_plugin")


def run_toy(path: Path, max_steps: int) -> None:
    with Store.open(f"sqlite:///{path}") as store:
        problem = toy_problem("abc")
        exists = store.find_search("toy") is not None
        search = ToySearch(store, "toy", problem) if exists else ToySearch.create(store, "toy", problem)
        search.driver(search.dispatcher(ScoreTable({"a": 0.5, "ab": 0.75})), max_steps=max_steps).run()


def test_the_watcher_checks_new_and_changed_databases_once_each(tmp_path: Path) -> None:
    watcher = InvariantWatcher(tmp_path)
    (tmp_path / "not-a-database.db").write_bytes(b"\x00" * 200)
    (tmp_path / "nested").mkdir()
    run_toy(tmp_path / "nested" / "search.db", max_steps=1)

    watcher.check_changed(exempt=False)
    watcher.check_changed(exempt=False)  # nothing changed: nothing checked again

    assert watcher.tally.databases == 1 and [c.steps for c in watcher.tally.checks] == [2]
    run_toy(tmp_path / "nested" / "search.db", max_steps=2)
    watcher.check_changed(exempt=False)
    assert watcher.tally.databases == 2 and [c.steps for c in watcher.tally.checks] == [2, 3]
    assert "2 search(es) checked (2 with recorded steps; 5 steps" in watcher.tally.summary()
    watcher.finished(tmp_path / "nested")
    assert watcher.changed() == []


@pytest.mark.hand_written_searches
def test_a_database_whose_rows_were_changed_behind_the_driver_fails_the_check_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "search.db"
    run_toy(path, max_steps=2)
    assert list(sqlite_files(tmp_path)) == [path]
    (check,), why_not = check_database(path)
    assert (check.steps, why_not) == (3, None)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE step_candidates SET score = score + 0.25 WHERE step_index = 1")
    connection.close()

    with pytest.raises(AssertionError, match=f"{path}:\nsearch 'toy' breaks the driver's invariants"):
        check_database(path)
