"""The evaluation ledger through the real driver on toy searches: what is reused, what is computed, what is stored.

``FakeDispatcher`` records every (set, prompt) pair it computes, so "computes only that item's pairs" is read off
what the engine stand-in was asked, and the stored rows say which evaluations were reused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from db import Store
from demo_search.scoring.match import MatchScorer
from demo_search.search.budget import Spending
from demo_search.search.ledger import EvaluationLedger
from tests.support.fake_dispatcher import ScoreTable
from tests.support.toy_search import ToySearch, toy_problem
from workers.decoding import DecodingParams

TABLE = ScoreTable({"": 0.25, "a": 0.5, "b": 0.375, "e": 0.4375, "ab": 0.75, "ae": 0.625}, spread=(0.125, -0.125, 0.0))
SCOPE = "toy model, loglik"


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(f"sqlite:///{tmp_path / 'search.db'}") as opened:
        yield opened


def run(store: Store, name: str, labels: str, ledger, **options):
    search = ToySearch.create(store, name, toy_problem(labels, prompts=3), **options.pop("create", {}))
    fake = search.dispatcher(TABLE, **options.pop("fake", {}))
    outcome = search.driver(fake, max_steps=2, ledger=ledger, **options).run()
    return search, fake, outcome


def test_a_second_search_with_one_more_pool_item_computes_only_that_items_pairs(store: Store, tmp_path) -> None:
    run(store, "first", "abcd", EvaluationLedger(store, SCOPE))

    second, fake, outcome = run(store, "second", "abcde", EvaluationLedger(store, SCOPE))

    assert fake.computed, "the extra item's sets must be computed"
    assert all("e" in pair.labels for pair in fake.computed), fake.computed
    assert len(fake.computed) == 2 * 3  # e at step 1, then a+e at step 2 (a is chosen again), 3 prompts each
    assert outcome.pairs_computed == 6
    # The same trajectory and stored scores as the search computed from scratch in a database of its own.
    with Store.open(f"sqlite:///{tmp_path / 'alone.db'}") as alone:
        exhaustive, _, _ = run(alone, "second", "abcde", EvaluationLedger(alone, SCOPE))
        assert second.chosen() == exhaustive.chosen() == ["", "a", "ab"]
        scores = {labels: (c.score, c.n_scored) for labels, c in second.candidates(2).items()}
        assert scores == {labels: (c.score, c.n_scored) for labels, c in exhaustive.candidates(2).items()}
    (summary,) = [s for s in store.list_searches() if s.search.name == "second"]
    assert summary.reused_evaluations == summary.evaluations - 6
    reused = [e for c in store.candidates_of_step("second", 1) for e in store.evaluations_for("second", c.set_key)]
    assert {(second.labels(c.demo_ids), e.reused) for c in store.candidates_of_step("second", 1)
            for e in store.evaluations_for("second", c.set_key)} == {
        ("a", True), ("b", True), ("c", True), ("d", True), ("e", False)}
    assert all(e.computed_tokens == 0 for e in reused if e.reused)
    assert Spending.stored(summary).evaluations == 6


def test_with_reuse_off_or_another_scope_everything_is_computed_again(store: Store) -> None:
    from demo_search.search.ledger import NoLedger

    run(store, "first", "abcd", EvaluationLedger(store, SCOPE))

    _, off, _ = run(store, "off", "abcd", NoLedger())
    _, other, _ = run(store, "other-model", "abcd", EvaluationLedger(store, "another model"))

    everything = (1 + 4 + 3) * 3
    assert len(off.computed) == len(other.computed) == everything


def test_generated_answers_are_reused_only_for_the_same_decoding(store: Store) -> None:
    def answer(labels, prompt_id):
        return f"item {''.join(labels)}"

    options = dict(create={"scorer_factory": lambda: MatchScorer("contains")}, fake={"answer": answer})
    run(store, "greedy", "abc", EvaluationLedger(store, SCOPE), **options)

    _, same, _ = run(store, "same", "abc", EvaluationLedger(store, SCOPE), **options)
    _, longer, _ = run(store, "longer", "abc", EvaluationLedger(store, SCOPE),
                       decoding=DecodingParams(max_tokens=17), **options)
    _, unseeded, _ = run(store, "sampled", "abc", EvaluationLedger(store, SCOPE),
                         decoding=DecodingParams(max_tokens=16, temperature=0.7), **options)
    _, again, _ = run(store, "sampled-again", "abc", EvaluationLedger(store, SCOPE),
                      decoding=DecodingParams(max_tokens=16, temperature=0.7), **options)

    everything = (1 + 3 + 2) * 3
    assert len(same.computed) == 0
    assert len(longer.computed) == everything
    assert len(unseeded.computed) == len(again.computed) == everything  # a sample without a seed is never reused
