"""Resume on toy searches with an in-process dispatcher: every strategy, killed anywhere, and after a min_delta stop.

A driver is "killed" by a fake dispatcher that raises instead of yielding its next result: the database is left
as a killed driver process leaves it (every finished unit stored, the step in progress not recorded). A second
driver on the same store must then end with exactly the rows of an uninterrupted run, computing every missing
(set, prompt) pair once and no stored pair again. Killing a real driver process (SIGKILL, failpoints inside a
commit) is ``test_resume.py``'s job; this file covers the strategies and stop rules quickly.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from db import Store
from tests.support.fake_dispatcher import DispatcherKilled, ScoreTable
from tests.support.toy_search import Kind, StoredRows, ToySearch, toy_problem

PROMPTS = 3
MAX_STEPS = 3
TABLE = ScoreTable(
    {
        "": 0.25, "a": 0.375, "b": 0.5, "c": 0.125, "d": 0.4375,
        "ab": 0.5, "ac": 0.625, "ad": 0.5625, "bc": 0.75, "bd": 0.6875, "cd": 0.3125,
        "abc": 0.8125, "abd": 0.875, "acd": 0.5, "bcd": 0.9375,
    },
    spread=(0.125, -0.125, 0.0),
)
"""Greedy: b, bc, bcd. A beam of 2 keeps b and d, then bc and bd (bd and db tie; bd's parent ranked first), and
ends with bcd (bcd and bdc tie; bcd's parent ranked first)."""

STRATEGIES: dict[str, tuple[Kind, int]] = {
    "greedy": ("greedy", 1),
    "beam2": ("beam", 2),
    "random": ("random", 1),
    "one_shot": ("one_shot", 1),
}
KILLS = [
    # units per step over a pool of 4, 3 steps: greedy 1+4+3+2, beam of 2 1+4+6+4, random 1+1+1+1, one-shot 1+4+1+1.
    # Each list kills right after a step (1 = after the base set) and in the middle of steps.
    *[("greedy", k) for k in (1, 3, 5, 7, 9)],
    *[("beam2", k) for k in (1, 3, 5, 8, 11, 14)],
    *[("random", k) for k in (1, 2, 3)],
    *[("one_shot", k) for k in (1, 3, 5, 6)],
]


def open_store(path: Path) -> Store:
    return Store.open(f"sqlite:///{path}")


def create(store: Store, strategy: str, name: str = "toy") -> ToySearch:
    kind, width = STRATEGIES[strategy]
    return ToySearch.create(store, name, toy_problem("abcd", prompts=PROMPTS), kind=kind, beam_width=width, seed=3)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[StoredRows, Counter]]:
    """Per strategy: the rows of an uninterrupted run and the (set, prompt) pairs it computed."""
    results = {}
    for strategy in STRATEGIES:
        with open_store(tmp_path_factory.mktemp("uninterrupted") / f"{strategy}.db") as store:
            search = create(store, strategy)
            fake = search.dispatcher(TABLE)
            search.driver(fake, max_steps=MAX_STEPS).run()
            results[strategy] = (search.stored_rows(), Counter(fake.computed))
    return results


def test_the_uninterrupted_runs_follow_the_table(
    uninterrupted: dict[str, tuple[StoredRows, Counter]], tmp_path: Path
) -> None:
    with open_store(tmp_path / "check.db") as store:
        for strategy, expected in (("greedy", ["", "b", "bc", "bcd"]), ("beam2", ["", "b", "bc", "bcd"])):
            search = create(store, strategy, name=strategy)
            search.driver(search.dispatcher(TABLE), max_steps=MAX_STEPS).run()
            assert search.chosen() == expected
            assert search.stored_rows() == uninterrupted[strategy][0]
    rows, _ = uninterrupted["beam2"]
    step_2 = [c for c in rows.candidates if c.step_index == 2]
    assert len(step_2) == 6  # the children of both beams
    assert [len(c.demo_ids) for c in rows.candidates if c.step_index == 3] == [3] * 4


@pytest.mark.parametrize(("strategy", "kill_after"), KILLS)
def test_a_driver_killed_after_any_unit_resumes_to_the_uninterrupted_rows_computing_each_pair_once(
    tmp_path: Path, uninterrupted: dict[str, tuple[StoredRows, Counter]], strategy: str, kill_after: int
) -> None:
    expected_rows, expected_pairs = uninterrupted[strategy]
    with open_store(tmp_path / "search.db") as store:
        search = create(store, strategy)
        killed = search.dispatcher(TABLE, die_after=kill_after)
        with pytest.raises(DispatcherKilled):
            search.driver(killed, max_steps=MAX_STEPS).run()
        assert len(killed.computed) == kill_after * PROMPTS
        resumed = search.dispatcher(TABLE)

        outcome = search.driver(resumed, max_steps=MAX_STEPS).run()

        assert outcome.stop_reason == f"max_steps ({MAX_STEPS}) reached"
        assert search.stored_rows() == expected_rows
        both = Counter(killed.computed) + Counter(resumed.computed)
        assert both == expected_pairs and set(both.values()) == {1}
        assert outcome.pairs_computed == len(resumed.computed)


# --- after a min_delta stop -------------------------------------------------------------------------------------

SMALL_GAIN = ScoreTable({"": 0.25, "a": 0.5, "b": 0.375, "ab": 0.5625, "ac": 0.5, "abc": 0.625}, spread=(0.0,))
"""Step 1 gains 0.25; step 2's best (ab) gains 0.0625 over a."""


def test_resuming_a_search_stopped_by_min_delta_computes_nothing_and_stops_the_same_way(tmp_path: Path) -> None:
    with open_store(tmp_path / "search.db") as store:
        search = create(store, "greedy")
        first = search.driver(search.dispatcher(SMALL_GAIN), max_steps=MAX_STEPS, min_delta=0.125).run()
        before = search.stored_rows()
        fake = search.dispatcher(SMALL_GAIN)

        again = search.driver(fake, max_steps=MAX_STEPS, min_delta=0.125).run()

        assert first.stop_reason == again.stop_reason == "no candidate improved by min_delta (0.125); best gain +0.0625"
        assert (fake.units_received, again.pairs_computed) == (0, 0)
        assert search.stored_rows() == before
        assert search.chosen() == ["", "a"]


def test_a_search_stopped_by_min_delta_goes_on_with_a_lower_one_from_its_stored_candidates(tmp_path: Path) -> None:
    with open_store(tmp_path / "reference.db") as store:
        reference = create(store, "greedy")
        reference.driver(reference.dispatcher(SMALL_GAIN), max_steps=MAX_STEPS, min_delta=0.0).run()
        expected = reference.stored_rows()
    with open_store(tmp_path / "search.db") as store:
        search = create(store, "greedy")
        search.driver(search.dispatcher(SMALL_GAIN), max_steps=MAX_STEPS, min_delta=0.125).run()
        fake = search.dispatcher(SMALL_GAIN)

        outcome = search.driver(fake, max_steps=MAX_STEPS, min_delta=0.0).run()

        assert outcome.stop_reason == f"max_steps ({MAX_STEPS}) reached"
        assert search.chosen() == ["", "a", "ab", "abc"]
        assert search.stored_rows() == expected
        assert {pair.labels for pair in fake.computed} == {("a", "b", "c"), ("a", "b", "d")}  # step 3 only
