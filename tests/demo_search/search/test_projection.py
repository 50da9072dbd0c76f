"""The projected cost of a search against what the real driver then computes on toy searches.

The driver, strategies, scorer and store are the product's; ``FakeDispatcher`` reports each request's whole prompt
length as its prompt tokens, so the stored ``prompt_tokens`` of a step are exactly what the projection's ``naive``
column estimates.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from db import Store
from demo_search.config import JudgePrice
from demo_search.scoring.judge import JudgeScorer
from demo_search.search.projection import JudgeSettings, project_search
from tests.support.fake_dispatcher import ScoreTable
from tests.support.judges import RecordingJudge
from tests.support.toy_search import ToySearch, strategy_of, toy_problem

TABLE = ScoreTable({"": 0.25, "a": 0.5, "b": 0.375, "ab": 0.75, "abc": 0.875}, spread=(0.125, -0.125, 0.0))


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(f"sqlite:///{tmp_path / 'search.db'}") as opened:
        yield opened


def stored_by_step(search: ToySearch, steps: int) -> list[tuple[int, int, int]]:
    """Per step: candidate sets, evaluations and the sum of their stored prompt tokens."""
    rows = []
    for step in range(steps + 1):
        candidates = search.store.candidates_of_step(search.name, step)
        evaluations = [e for c in candidates for e in search.store.evaluations_for(search.name, c.set_key)]
        rows.append((len(candidates), len(evaluations), sum(e.prompt_tokens for e in evaluations)))
    return rows


@pytest.mark.parametrize(("kind", "width"), [("greedy", 1), ("beam", 2), ("one_shot", 1), ("random", 1)])
def test_projected_sets_evaluations_and_prompt_tokens_match_the_search(store: Store, kind: str, width: int) -> None:
    steps = 3
    problem = toy_problem("abcdef", prompts=3)
    search = ToySearch.create(store, "toy", problem, kind=kind, beam_width=width)
    search.driver(search.dispatcher(TABLE), max_steps=steps).run()

    projection = project_search(problem, strategy_of(kind, beam_width=width), max_steps=steps, with_targets=True,
                                max_new_tokens=0)

    actual = stored_by_step(search, steps)
    assert [(s.candidates, s.evaluations) for s in projection.steps] == [(c, e) for c, e, _ in actual]
    for projected, (_, _, tokens) in zip(projection.steps, actual, strict=True):
        # Exact for the base set and step 1; later steps count each earlier choice at the pool's mean length
        # (the toy demonstrations differ by at most one byte).
        assert projected.naive_tokens == pytest.approx(tokens, rel=0.01)
        assert projected.trie_tokens < projected.naive_tokens
    assert projection.total.evaluations == sum(e for _, e, _ in actual)


def test_items_the_search_skips_are_left_out_of_the_projection() -> None:
    problem = toy_problem("abcd", prompts=2)
    pool = problem.pool_ids

    projection = project_search(problem, strategy_of("greedy"), max_steps=2, with_targets=True, max_new_tokens=0,
                                skipped_items=[pool[1]])

    assert [s.candidates for s in projection.steps] == [1, 3, 2]


def test_a_judged_search_projects_one_call_per_evaluation_and_prices_the_upper_bounds(store: Store) -> None:
    price = JudgePrice(input_per_mtok=2.5, output_per_mtok=10.0)
    problem = toy_problem("abc", prompts=4)
    judge = RecordingJudge()
    search = ToySearch.create(store, "judged", problem, scorer_factory=lambda: JudgeScorer(judge))
    search.driver(search.dispatcher(ScoreTable({})), max_steps=1, min_delta=-100.0).run()

    projection = project_search(problem, strategy_of("greedy"), max_steps=1, with_targets=False,
                                max_new_tokens=16, judge=JudgeSettings(max_tokens=512, price=price))

    total = projection.total
    assert total.judge_calls == total.evaluations == len(judge.requests) == (1 + 3) * 4
    assert total.generated_tokens == total.evaluations * 16
    assert total.judge_output_tokens == total.evaluations * 512
    # Every request the judge was sent is within the projected prompt bound (answers here are shorter than 16
    # tokens; the bound counts each at 16).
    sent = sum(len(problem.tokenizer(r.system + r.user)["input_ids"]) for r in judge.requests)
    assert sent <= total.judge_input_tokens <= sent + total.evaluations * (16 + 2)
    assert total.usd == pytest.approx(price.usd(total.judge_input_tokens, total.judge_output_tokens))
    assert total.usd == pytest.approx(sum(step.usd for step in projection.steps))


def test_a_raced_step_costs_at_least_its_first_round_and_the_leaders_on_every_prompt() -> None:
    price = JudgePrice(input_per_mtok=1.0, output_per_mtok=1.0)
    problem = toy_problem("abcdef", prompts=20)
    projection = project_search(problem, strategy_of("greedy"), max_steps=2, with_targets=False,
                                max_new_tokens=8, judge=JudgeSettings(max_tokens=100, price=price))

    floor = projection.raced_floor(first_prompts=8, leaders=1)

    base, one, two = floor.steps
    assert base == projection.steps[0]  # the base set is not raced
    assert (one.evaluations, two.evaluations) == (6 * 8 + 12, 5 * 8 + 12)
    assert one.judge_calls == one.evaluations and one.generated_tokens == one.evaluations * 8
    assert one.usd == pytest.approx(projection.steps[1].usd * one.evaluations / projection.steps[1].evaluations)
    assert floor.total.evaluations == 20 + 60 + 52 < projection.total.evaluations
    # A step whose candidates are all leaders, or whose prompts all fit the first round, cannot save anything.
    assert projection.raced_floor(first_prompts=20, leaders=1).steps == projection.steps
