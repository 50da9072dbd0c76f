"""The driver loop on toy searches with an in-process dispatcher: replay, budgets, ``min_delta``, ties, failed units.

No Ray and no model: ``tests.support.fake_dispatcher.FakeDispatcher`` scores a set from the demonstrations its
prompt holds, through a score table, and the real driver, strategies, scorer and store do everything else.
Scores are dyadic (0.5, 0.375, ...), so means are exact and equal values tie exactly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from db import CandidateStatus, Store
from demo_search.search.budget import Budget
from demo_search.search.driver import SearchError
from demo_search.search.step_failures import SKIPPED_NOTE, StepFailedError
from tests.support.fake_dispatcher import ScoreTable
from tests.support.toy_search import ToySearch, toy_problem

SPREAD = (0.125, -0.125, 0.0)
"""Per-prompt offsets over the toy's three held-out prompts: they cancel in the mean."""
TABLE = ScoreTable({"": 0.25, "a": 0.5, "b": 0.375, "c": 0.125, "ab": 0.75, "ac": 0.625}, spread=SPREAD)
"""Greedy over pool ``abcd``: base 0.25, then ``a`` (0.5, runner-up ``b``), then ``ab`` (0.75, runner-up ``ac``)."""
PROMPTS = 3


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(f"sqlite:///{tmp_path / 'search.db'}") as opened:
        yield opened


def toy(store: Store, name: str = "toy", labels: str = "abcd", **options) -> ToySearch:
    return ToySearch.create(store, name, toy_problem(labels, prompts=PROMPTS), **options)


# --- one run --------------------------------------------------------------------------------------------------


def test_each_step_records_the_best_candidate_its_runner_up_and_every_candidate_score(store: Store) -> None:
    search = toy(store)
    fake = search.dispatcher(TABLE)

    outcome = search.driver(fake, max_steps=2).run()

    assert outcome.stop_reason == "max_steps (2) reached"
    assert search.chosen() == ["", "a", "ab"]
    assert (outcome.steps_recorded, outcome.pairs_computed, outcome.units_failed) == (3, (1 + 4 + 3) * PROMPTS, 0)
    scores = {labels: c.score for labels, c in search.candidates(1).items()}
    assert scores == {"a": 0.5, "b": 0.375, "c": 0.125, "d": 0.0}
    assert {labels: c.n_scored for labels, c in search.candidates(2).items()} == {"ab": 3, "ac": 3, "ad": 3}
    step_1, step_2 = store.steps("toy")[1:]
    assert search.label(step_1.runner_up_item_id) == "b" and step_1.runner_up_score == 0.375
    assert search.label(step_2.item_id) == "b" and search.label(step_2.runner_up_item_id) == "c"
    assert outcome.computed_tokens == sum(
        e.computed_tokens for step in range(3) for c in store.candidates_of_step("toy", step)
        for e in store.evaluations_for("toy", c.set_key)
    ) > 0


# --- replay ---------------------------------------------------------------------------------------------------


def test_a_second_driver_on_a_finished_search_replays_the_stored_steps_and_computes_nothing(store: Store) -> None:
    search = toy(store)
    search.driver(search.dispatcher(TABLE), max_steps=2).run()
    before = search.stored_rows()
    # Were anything computed again, this table would change every score and choice.
    other = search.dispatcher(ScoreTable({"d": 1.0}))

    outcome = search.driver(other, max_steps=2).run()

    assert other.units_received == 0 and outcome.pairs_computed == 0
    assert (outcome.stop_reason, outcome.steps_recorded) == ("max_steps (2) reached", 3)
    assert search.stored_rows() == before


def test_extending_a_finished_search_computes_only_its_new_step(store: Store) -> None:
    search = toy(store)
    search.driver(search.dispatcher(TABLE), max_steps=2).run()
    fake = search.dispatcher(TABLE)

    outcome = search.driver(fake, max_steps=3).run()

    assert {pair.labels for pair in fake.computed} == {("a", "b", "c"), ("a", "b", "d")}
    assert outcome.pairs_computed == 2 * PROMPTS
    assert search.chosen()[:3] == ["", "a", "ab"] and len(search.chosen()) == 4


def test_a_replay_that_ranks_the_stored_scores_differently_is_refused(store: Store) -> None:
    tie = ScoreTable({"a": 0.5, "b": 0.5})
    search = toy(store, labels="abcd")
    search.driver(search.dispatcher(tie), max_steps=1).run()
    assert search.chosen() == ["", "a"]  # a tie, won by the item first in the pool
    # The same stored scores under another pool order: the tie now goes to b.
    reordered = ToySearch(store, "toy", toy_problem("bacd", prompts=PROMPTS))
    fake = reordered.dispatcher(tie)

    with pytest.raises(SearchError, match=r"replaying step 1 chose \w+, but the database recorded \w+"):
        reordered.driver(fake, max_steps=2).run()
    assert fake.units_received == 0


# --- budgets --------------------------------------------------------------------------------------------------


def test_max_evaluations_stops_after_the_unit_that_reaches_it_counting_earlier_runs(store: Store) -> None:
    search = toy(store)

    first = search.driver(search.dispatcher(TABLE), budget=Budget(max_evaluations=3 * PROMPTS)).run()

    assert first.stop_reason == "budget exhausted"
    assert first.pairs_computed == 3 * PROMPTS  # the base set, then two sets of step 1
    assert len(store.steps("toy")) == 1 and store.candidates_of_step("toy", 1) == []
    fake = search.dispatcher(TABLE)

    second = search.driver(fake, budget=Budget(max_evaluations=3 * PROMPTS)).run()

    # The budget is already spent by the first run: the driver checks it after each unit, so one more unit runs.
    assert (second.stop_reason, fake.units_received, second.pairs_computed) == ("budget exhausted", 1, PROMPTS)
    assert [s.evaluations for s in store.list_searches()] == [4 * PROMPTS]


def test_max_tokens_stops_after_the_unit_whose_tokens_reach_it(store: Store) -> None:
    search = toy(store)
    earlier = search.driver(search.dispatcher(TABLE), max_steps=1).run().computed_tokens
    reference = toy(store, "reference")
    reference.driver(reference.dispatcher(TABLE), max_steps=2).run()
    unit_tokens = {
        labels: sum(e.computed_tokens for e in store.evaluations_for("reference", c.set_key))
        for labels, c in reference.candidates(2).items()
    }
    assert len(set(unit_tokens.values())) == 1  # every unit of step 2 has prompts of the same length
    per_unit = unit_tokens["ab"]
    fake = search.dispatcher(TABLE)

    outcome = search.driver(fake, max_steps=2, budget=Budget(max_tokens=earlier + 2 * per_unit - 1)).run()

    assert (outcome.stop_reason, fake.units_received) == ("budget exhausted", 2)
    assert outcome.computed_tokens == 2 * per_unit
    assert len(store.steps("toy")) == 2 and store.candidates_of_step("toy", 2) == []


def test_max_tokens_reached_by_the_first_unit_stops_after_it(store: Store) -> None:
    search = toy(store)
    search.driver(search.dispatcher(TABLE), max_steps=1).run()
    fake = search.dispatcher(TABLE)

    outcome = search.driver(fake, max_steps=2, budget=Budget(max_tokens=1)).run()

    assert (outcome.stop_reason, fake.units_received, outcome.pairs_computed) == ("budget exhausted", 1, PROMPTS)
    assert outcome.computed_tokens > 1
    assert search.chosen() == ["", "a"]


def test_max_tokens_counts_the_tokens_of_earlier_runs(store: Store) -> None:
    search = toy(store)
    earlier = search.driver(search.dispatcher(TABLE), max_steps=1).run()
    fake = search.dispatcher(TABLE)

    search.driver(fake, max_steps=2, budget=Budget(max_tokens=earlier.computed_tokens + 1)).run()

    assert fake.units_received == 1


def test_a_spent_wall_time_budget_stops_after_one_unit_and_a_long_one_never_stops(store: Store) -> None:
    search = toy(store)
    search.driver(search.dispatcher(TABLE), max_steps=1).run()
    spent = search.dispatcher(TABLE)

    stopped = search.driver(spent, max_steps=2, budget=Budget(max_wall_time_s=0.0)).run()

    assert (stopped.stop_reason, spent.units_received) == ("budget exhausted", 1)
    assert search.chosen() == ["", "a"]
    ample = search.dispatcher(TABLE)
    finished = search.driver(ample, max_steps=2, budget=Budget(max_wall_time_s=3600.0)).run()
    assert (finished.stop_reason, ample.units_received) == ("max_steps (2) reached", 2)
    assert search.chosen() == ["", "a", "ab"]


def test_a_budget_spent_in_the_base_step_ends_the_run_with_an_error_naming_the_budget(store: Store) -> None:
    search = toy(store)
    fake = search.dispatcher(TABLE)

    with pytest.raises(SearchError, match=r"the base set could not be scored \(budget exhausted\)"):
        search.driver(fake, budget=Budget(max_wall_time_s=0.0)).run()
    assert fake.units_received == 1 and [s.evaluations for s in store.list_searches()] == [PROMPTS]


# --- min_delta ------------------------------------------------------------------------------------------------


SMALL_GAIN = ScoreTable({"": 0.25, "a": 0.5, "b": 0.375, "ab": 0.5625, "ac": 0.5}, spread=SPREAD)
"""Step 1 gains 0.25 over the base set; step 2's best (``ab``) gains only 0.0625 over ``a``."""


def test_min_delta_stops_the_search_when_the_best_gain_is_below_it_and_keeps_the_step_candidates(
    store: Store,
) -> None:
    search = toy(store)

    outcome = search.driver(search.dispatcher(SMALL_GAIN), max_steps=3, min_delta=0.125).run()

    assert outcome.stop_reason == "no candidate improved by min_delta (0.125); best gain +0.0625"
    assert search.chosen() == ["", "a"] and outcome.steps_recorded == 2
    assert {labels: c.score for labels, c in search.candidates(2).items()} == {"ab": 0.5625, "ac": 0.5, "ad": 0.0}


def test_a_gain_equal_to_min_delta_goes_on(store: Store) -> None:
    search = toy(store)

    outcome = search.driver(search.dispatcher(SMALL_GAIN), max_steps=2, min_delta=0.0625).run()

    assert outcome.stop_reason == "max_steps (2) reached"
    assert search.chosen() == ["", "a", "ab"]


def test_min_delta_applies_to_the_first_step_too(store: Store) -> None:
    search = toy(store)

    outcome = search.driver(search.dispatcher(SMALL_GAIN), max_steps=2, min_delta=0.5).run()

    assert outcome.stop_reason == "no candidate improved by min_delta (0.5); best gain +0.2500"
    assert search.chosen() == [""]


@pytest.mark.parametrize("kind", ["random", "one_shot"])
def test_baselines_add_demonstrations_whatever_min_delta_says(store: Store, kind: str) -> None:
    search = toy(store, kind=kind)

    outcome = search.driver(search.dispatcher(SMALL_GAIN), max_steps=3, min_delta=10.0).run()

    assert outcome.stop_reason == "max_steps (3) reached"
    assert [len(labels) for labels in search.chosen()] == [0, 1, 2, 3]


# --- ties -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("pool", "winner", "runner_up"), [("abcd", "a", "c"), ("dcba", "c", "a")])
def test_equal_means_go_to_the_candidate_first_in_the_pool_file(
    store: Store, pool: str, winner: str, runner_up: str
) -> None:
    tie = ScoreTable({"a": 0.5, "c": 0.5, "b": 0.25}, spread=SPREAD)
    search = toy(store, labels=pool)

    search.driver(search.dispatcher(tie), max_steps=1).run()

    step = store.steps("toy")[1]
    assert search.label(step.item_id) == winner and search.label(step.runner_up_item_id) == runner_up
    assert step.score == step.runner_up_score == 0.5


def test_equal_means_go_to_the_better_ranked_parent_beam_before_the_pool_order(store: Store) -> None:
    # Step 1 ranks a (0.5) above b (0.375); both survive a beam of 2. In step 2, ab, ba and ac tie at 0.75:
    # ab and ac extend the better parent (a), and ab adds the earlier pool item; ba adds the first pool item (a)
    # but extends b, so it ranks third.
    tie = ScoreTable({"a": 0.5, "b": 0.375, "ab": 0.75, "ac": 0.75}, spread=SPREAD)
    search = toy(store, kind="beam", beam_width=2)

    search.driver(search.dispatcher(tie), max_steps=3).run()

    step_2 = store.steps("toy")[2]
    assert search.chosen()[2] == "ab"
    by_key = {c.set_key: search.labels(c.demo_ids) for c in store.candidates_of_step("toy", 2)}
    assert by_key[step_2.runner_up_set_key] == "ac" and step_2.runner_up_score == 0.75
    # Only the two best sets of step 2 (ab, ac) survive into step 3; ba does not.
    assert {labels[:2] for labels in search.candidates(3)} == {"ab", "ac"}


# --- a failed unit --------------------------------------------------------------------------------------------


def test_a_failed_unit_ends_its_step_failed_naming_the_candidate_and_nothing_is_chosen(store: Store) -> None:
    search = toy(store)
    fake = search.dispatcher(TABLE, fail={"a"})  # a would be step 1's best

    with pytest.raises(StepFailedError) as raised:
        search.driver(fake, max_steps=2).run()

    a_id = search.problem.pool[0].id
    assert str(raised.value).startswith(
        "search 'toy': step 1 failed: 1 candidate set(s) failed on every attempt, so the step chose nothing"
    )
    assert raised.value.problems[0] == (
        f"candidate {a_id}: failed after 3 attempt(s); last error: RuntimeError: injected failure of the set a"
    )
    assert "`demo-search resume toy` runs only the failed candidates' units" in raised.value.problems[1]
    assert search.chosen() == [""]  # no choice for step 1, and nothing after it
    failed = search.candidates(1)["a"]
    assert (failed.status, failed.score, failed.n_scored) == (CandidateStatus.FAILED, None, 0)
    assert failed.reason == "engine failure after 3 attempt(s): RuntimeError: injected failure of the set a"
    assert store.evaluations_for("toy", failed.set_key) == []
    assert {labels: c.status for labels, c in search.candidates(1).items() if labels != "a"} == dict.fromkeys(
        "bcd", CandidateStatus.SCORED
    )
    assert store.candidates_of_step("toy", 2) == []


def test_a_resume_once_the_fault_is_gone_runs_only_the_failed_units_and_reaches_the_undisturbed_trajectory(
    store: Store,
) -> None:
    clean = toy(store, "clean")
    clean.driver(clean.dispatcher(TABLE), max_steps=2).run()
    search = toy(store)
    with pytest.raises(StepFailedError):
        search.driver(search.dispatcher(TABLE, fail={"a"}), max_steps=2).run()
    healthy = search.dispatcher(TABLE)

    outcome = search.driver(healthy, max_steps=2).run()

    assert outcome.stop_reason == "max_steps (2) reached"
    assert [pair.labels for pair in healthy.computed[::PROMPTS]] == [("a",), ("a", "b"), ("a", "c"), ("a", "d")]
    assert len(healthy.computed) == 4 * PROMPTS
    assert search.chosen() == clean.chosen() == ["", "a", "ab"]
    assert search.stored_rows() == clean.stored_rows()


def test_a_step_with_a_failed_candidate_fails_before_the_survivors_can_stop_the_search(store: Store) -> None:
    # Without a, no candidate of step 1 improves on the base set by min_delta: the survivors alone would end the
    # search; a failed candidate must not decide that either.
    search = toy(store)
    low = ScoreTable({"": 0.25, "a": 0.5, "b": 0.125, "c": 0.0}, spread=SPREAD)

    with pytest.raises(StepFailedError, match="step 1 failed"):
        search.driver(search.dispatcher(low, fail={"a"}), max_steps=2, min_delta=0.0).run()

    assert search.chosen() == [""]


def test_with_skip_the_step_chooses_among_the_survivors_and_names_the_skipped_candidate(store: Store) -> None:
    search = toy(store)
    fake = search.dispatcher(TABLE, fail={"a"})

    outcome = search.driver(fake, max_steps=2, on_failed_candidate="skip").run()

    assert (outcome.stop_reason, outcome.units_failed) == ("max_steps (2) reached", 1)
    failed = search.candidates(1)["a"]
    assert (failed.status, failed.score, failed.n_scored) == (CandidateStatus.FAILED, None, 0)
    assert failed.reason == (
        f"engine failure after 3 attempt(s): RuntimeError: injected failure of the set a; {SKIPPED_NOTE}"
    )
    assert store.evaluations_for("toy", failed.set_key) == []
    assert search.chosen() == ["", "b", "ba"]
    assert search.label(store.steps("toy")[1].runner_up_item_id) == "c"
    assert outcome.pairs_computed == (1 + 3 + 3) * PROMPTS
    # A later run (any policy) replays the recorded choice and computes nothing.
    again = search.dispatcher(TABLE)
    search.driver(again, max_steps=2).run()
    assert again.units_received == 0 and search.chosen() == ["", "b", "ba"]


def test_a_failed_base_set_ends_the_run_with_an_error_that_gives_the_reason(store: Store) -> None:
    search = toy(store)
    fake = search.dispatcher(TABLE, fail={""})

    with pytest.raises(StepFailedError, match=r"step 0 failed: 1 candidate set\(s\) failed") as raised:
        search.driver(fake).run()

    assert raised.value.problems[0].endswith(
        "(base set): failed after 3 attempt(s); last error: RuntimeError: injected failure of the set base"
    )
    (base,) = store.candidates_of_step("toy", 0)
    assert base.status is CandidateStatus.FAILED and store.steps("toy") == []


def test_with_skip_a_failed_base_set_still_ends_the_run_with_its_reason(store: Store) -> None:
    search = toy(store)
    fake = search.dispatcher(TABLE, fail={""})

    with pytest.raises(SearchError, match=r"the base set could not be scored \(no candidate of step 0") as raised:
        search.driver(fake, on_failed_candidate="skip").run()

    assert raised.value.problems[0] == (
        "base set: engine failure after 3 attempt(s): RuntimeError: injected failure of the set base; "
        f"{SKIPPED_NOTE}"
    )
    assert store.steps("toy") == []


# --- beam search ------------------------------------------------------------------------------------------------


TRAP = ScoreTable(
    {"": 0.0, "a": 0.5, "b": 0.375, "c": 0.25, "d": 0.125, "ab": 0.5625, "ac": 0.5625, "ad": 0.5, "bc": 0.875}
)
"""Greedy takes a, the best single item, and then can reach 0.5625 at most; b and c together score 0.875."""


def test_a_beam_of_three_escapes_the_trap_that_greedy_walks_into(store: Store) -> None:
    greedy = toy(store, "greedy")
    beam = toy(store, "beam", kind="beam", beam_width=3)

    greedy.driver(greedy.dispatcher(TRAP), max_steps=2).run()
    beam.driver(beam.dispatcher(TRAP), max_steps=2).run()

    assert greedy.chosen() == ["", "a", "ab"]  # ab and ac tie: b comes first in the pool
    assert beam.chosen() == ["", "a", "bc"]  # bc and cb tie: bc's parent (b) ranked above c
    greedy_best, beam_best = store.steps("greedy")[-1].score, store.steps("beam")[-1].score
    assert (greedy_best, beam_best) == (0.5625, 0.875)
