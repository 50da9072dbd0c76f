"""Racing in the driver, on a planted toy task: 120 candidates, 96 held-out prompts, the fake dispatcher.

The planted item ``a`` lifts the score from 1/16 to 7/8, ``b`` with it to 15/16 (``b`` alone: 1/2); any decoy in a
set drops it to 1/32. Every prompt adds the same shift to every set (a prompt that is easy for one set is easy for
all), so paired differences are constant while the scores are not. Racing must choose what the exhaustive search
chooses with at least 3x fewer evaluations, replay its eliminations after a kill, and record them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from db import CandidateStatus, Store
from demo_search.scoring.loglik import LoglikScorer
from demo_search.search.racing import RaceSettings
from tests.support.fake_dispatcher import DispatcherKilled, ScoreTable
from tests.support.toy_search import ToySearch, toy_problem

DECOYS = tuple(f"d{i:03d}" for i in range(118))
LABELS = ("a", "b", *DECOYS)
PROMPTS = 96
TABLE = ScoreTable(
    {"": 0.0625, "a": 0.875, "b": 0.5, "ab": 0.9375}, default=0.03125, spread=(0.03125, -0.03125, 0.0, 0.0)
)
RACING = RaceSettings(delta=0.05, first_prompts=8, round_prompts=8, score_range=(0.0, 1.0), seed=3)


class BoundedToyScorer(LoglikScorer):
    """The toy tables' scores lie in [0, 1]: a scorer that says so, as exact match does, so that racing may run."""

    score_range = (0.0, 1.0)


@pytest.fixture(scope="module")
def problem():
    return toy_problem(LABELS, prompts=PROMPTS)


@pytest.fixture(scope="module")
def exhaustive(tmp_path_factory, problem):
    return run(tmp_path_factory.mktemp("exhaustive"), problem, "exhaustive", racing=None)


@pytest.fixture(scope="module")
def raced(tmp_path_factory, problem):
    return run(tmp_path_factory.mktemp("raced"), problem, "raced", racing=RACING)


def run(tmp_path: Path, problem, name: str, *, racing: RaceSettings | None, kind="greedy", width=1, kill_after=None):
    store = Store.open(f"sqlite:///{tmp_path / (name + '.db')}")
    search = ToySearch.create(store, name, problem, kind=kind, beam_width=width, scorer_factory=BoundedToyScorer)
    computed = []
    if kill_after is not None:
        killed = search.dispatcher(TABLE, die_after=kill_after)
        with pytest.raises(DispatcherKilled):
            search.driver(killed, max_steps=2, racing=racing).run()
        computed += killed.computed
    dispatcher = search.dispatcher(TABLE)
    outcome = search.driver(dispatcher, max_steps=2, racing=racing).run()
    computed += dispatcher.computed
    return search, outcome, computed


def test_racing_chooses_the_exhaustive_trajectory_with_3x_fewer_evaluations(exhaustive, raced) -> None:
    exhaustive, _, all_pairs = exhaustive
    raced, _, raced_pairs = raced

    assert exhaustive.chosen() == raced.chosen() == ["", "a", "ab"]
    assert len(all_pairs) == PROMPTS * (1 + 120 + 119)
    assert len(all_pairs) >= 3 * len(raced_pairs), (len(all_pairs), len(raced_pairs))
    assert len(set(raced_pairs)) == len(raced_pairs)  # no pair computed twice

    steps = raced.store.steps("raced")
    assert steps[0].racing is None  # the base step has one set: nothing to race
    for step in steps[1:]:
        summary = step.racing
        candidates = raced.store.candidates_of_step("raced", step.step_index)
        eliminated = [c for c in candidates if c.status is CandidateStatus.ELIMINATED]
        scored = [c for c in candidates if c.status is CandidateStatus.SCORED]
        assert {e["set_key"] for e in summary["eliminated"]} == {c.set_key for c in eliminated}
        assert len(eliminated) >= 117 and step.set_key in {c.set_key for c in scored}
        assert all(c.n_scored == PROMPTS for c in scored)  # survivors and the winner saw every prompt
        assert summary["saved_evaluations"] == summary["exhaustive_evaluations"] - summary["evaluations"] > 0
        for record in summary["eliminated"]:
            assert record["p_value"] <= record["level"] and record["prompts"] < PROMPTS and record["round"] >= 1
            seen = {e.prompt_id for e in raced.store.evaluations_for("raced", record["set_key"])}
            assert seen == set(summary["order"][: record["prompts"]])  # exactly the first prompts of the order
        assert all("eliminated by racing in round" in (c.reason or "") for c in eliminated)


def test_a_search_killed_mid_race_resumes_with_the_same_eliminations_computing_only_missing_pairs(
    tmp_path: Path, problem, raced
) -> None:
    whole, _, whole_pairs = raced
    # 1 base unit, 120 units in each of step 1's first two rounds (the decoys leave after the second), then one of
    # round 3's two: killed after the race eliminated, before step 1 was recorded
    resumed, _, resumed_pairs = run(tmp_path, problem, "resumed", racing=RACING, kill_after=1 + 2 * 120 + 1)

    assert resumed.chosen() == whole.chosen()
    assert resumed.stored_rows().candidates == whole.stored_rows().candidates
    assert [s.racing for s in resumed.store.steps("resumed")] == [s.racing for s in whole.store.steps("raced")]
    assert len(set(resumed_pairs)) == len(resumed_pairs) == len(whole_pairs)  # only missing pairs, none twice


def test_racing_with_a_beam_keeps_the_beam_and_its_choices(tmp_path: Path) -> None:
    problem = toy_problem(LABELS[:40], prompts=48)
    exhaustive, _, all_pairs = run(tmp_path, problem, "beam_all", racing=None, kind="beam", width=2)
    beam = RaceSettings(delta=0.05, first_prompts=8, round_prompts=8, score_range=(0.0, 1.0), survivors=2, seed=3)
    raced, _, raced_pairs = run(tmp_path, problem, "beam_raced", racing=beam, kind="beam", width=2)

    assert raced.chosen() == exhaustive.chosen()
    assert len(raced_pairs) < len(all_pairs)
    step1 = raced.candidates(1)
    assert step1["a"].status is step1["b"].status is CandidateStatus.SCORED  # both beams scored on everything
    assert all(step.racing["survivors"] >= 2 for step in raced.store.steps("beam_raced")[1:])
