"""The test split (``data.test``) on toy searches with an in-process dispatcher: the chosen set of each step is
scored on the test prompts, kept apart from the held-out evaluations selection ranks on, read back as each step's
test score, and a resumed search computes only the test pairs it lacks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from db import Store
from demo_search.search.driver import SearchDriver
from demo_search.search.test_split import NO_TEST_SPLIT, open_test_split
from demo_search.split_scores import stored_test_scores
from demo_search.types import HeldOutPrompt
from tests.support.fake_dispatcher import FakeDispatcher, ScoreTable
from tests.support.toy_search import ToySearch, toy_problem
from workers.decoding import DecodingParams

TABLE = ScoreTable({"": 0.25, "a": 0.375, "b": 0.5, "ab": 0.625, "bc": 0.75, "bd": 0.5}, spread=(0.125, -0.125))
"""Greedy over abcd: b, then bc."""
TEST_PROMPTS = tuple(HeldOutPrompt.create(f"test question {i}", f"test reference {i}") for i in range(4))


def toy(tmp_path: Path) -> tuple[Store, ToySearch]:
    store = Store.open(f"sqlite:///{tmp_path / 'split.db'}")
    return store, ToySearch.create(store, "split", toy_problem(prompts=2))


def drive(search: ToySearch, *, max_steps: int, every_step: bool) -> tuple[FakeDispatcher, int]:
    """Run ``search`` to ``max_steps`` with a test split; the dispatcher and the test pairs the split computed."""
    ids = [p.id for p in search.problem.prompts] + [p.id for p in TEST_PROMPTS]
    dispatcher = FakeDispatcher(search.problem.tokenizer, TABLE, ids)
    driver = search.driver(dispatcher, max_steps=max_steps)
    split = open_test_split(
        search.store, search.name, test_prompts=TEST_PROMPTS, problem=search.problem, every_step=every_step,
        dispatcher=dispatcher, scorer=search.scorer_factory(), decoding=DecodingParams(max_tokens=16),
    )
    driver.test_split = split
    driver.run()
    return dispatcher, split.pairs_computed


def test_each_steps_chosen_set_is_scored_on_the_test_prompts_apart_from_validation(tmp_path: Path) -> None:
    store, search = toy(tmp_path)
    with store:
        dispatcher, computed = drive(search, max_steps=2, every_step=True)

        assert search.chosen() == ["", "b", "bc"]
        assert computed == 3 * len(TEST_PROMPTS)
        test_ids = {p.id for p in TEST_PROMPTS}
        tested = Counter("".join(sorted(p.labels)) for p in dispatcher.computed if p.prompt_id in test_ids)
        assert tested == {"": 4, "b": 4, "bc": 4}
        for step in store.steps("split"):  # selection saw no test pair
            assert not {e.prompt_id for e in store.evaluations_for("split", step.set_key)} & test_ids
        scores = stored_test_scores(store, "split")
        assert sorted(scores) == [0, 1, 2]
        for step, value in zip(range(3), (0.25, 0.5, 0.75), strict=True):
            assert (scores[step].mean, scores[step].n) == (value, 4)  # the spread sums to zero over 4 prompts
            assert scores[step].stderr == pytest.approx(0.125 / 4 ** 0.5 * (4 / 3) ** 0.5)


def test_a_resumed_search_computes_only_the_missing_test_pairs(tmp_path: Path) -> None:
    store, search = toy(tmp_path)
    with store:
        _, first = drive(search, max_steps=1, every_step=False)  # only the last chosen set, at the end
        assert first == len(TEST_PROMPTS)
        assert sorted(stored_test_scores(store, "split")) == [1]

        dispatcher, second = drive(search, max_steps=2, every_step=True)  # steps 0 and 2 are missing

        assert second == 2 * len(TEST_PROMPTS)
        test_ids = {p.id for p in TEST_PROMPTS}
        assert Counter("".join(p.labels) for p in dispatcher.computed if p.prompt_id in test_ids) == {"": 4, "bc": 4}
        assert sorted(stored_test_scores(store, "split")) == [0, 1, 2]
        assert drive(search, max_steps=2, every_step=True)[1] == 0  # nothing left to compute


def test_a_search_without_test_prompts_has_no_test_split(tmp_path: Path) -> None:
    store, search = toy(tmp_path)
    with store:
        split = open_test_split(
            store, "split", test_prompts=None, problem=search.problem, every_step=True,
            dispatcher=search.dispatcher(TABLE), scorer=search.scorer_factory(), decoding=DecodingParams(),
        )
        assert split is NO_TEST_SPLIT
        assert isinstance(search.driver(search.dispatcher(TABLE)), SearchDriver)
        search.driver(search.dispatcher(TABLE), max_steps=1).run()
        assert stored_test_scores(store, "split") == {}
