"""Judgements that do not parse, through the real judge scorer and driver: what the product stores and ranks.

The fake dispatcher "generates" an answer naming the set's demonstrations; a fake judge backend replies to each
MT-Bench grading request from a table keyed by (set, question). Everything between (the grading request, the
rating parser, the evaluations, the candidate aggregate and the step's choice) is the product's code, so the
stored mean, ``n_scored`` and excluded count below are what the driver computed, not what the test did.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from db import CandidateStatus, Store
from demo_search.config import JudgePrice
from demo_search.scoring.judge import JudgeScorer
from demo_search.scoring.judge_backend import JudgeBackend, JudgeReply
from demo_search.scoring.judge_prompt import JudgeRequest
from demo_search.search.budget import Budget
from tests.support.fake_dispatcher import ScoreTable
from tests.support.toy_search import ToySearch, toy_problem

PROMPTS = 4
UNPARSABLE = "The answer is fine, I suppose."
OUT_OF_RANGE = "Rating: [[11]]"
REPLIES: Mapping[tuple[str, int], str] = {
    ("", 0): "Rating: [[8]]", ("", 1): UNPARSABLE, ("", 2): "Rating: [[4]]", ("", 3): OUT_OF_RANGE,
    ("a", 0): "Rating: [[9]]", ("a", 1): UNPARSABLE, ("a", 2): UNPARSABLE, ("a", 3): UNPARSABLE,
    ("b", 0): "[[7]]", ("b", 1): "[[7]]", ("b", 2): "[[7]]", ("b", 3): "[[7]]",
}
"""Base set: 8 and 4 parse, two do not. a: one 9, three unparsable. b: four 7s. Anything else: 1."""

_ANSWER = re.compile(r"answer for set \[(\w*)\]")
_QUESTION = re.compile(r"question (\d+)")


class TableJudge(JudgeBackend):
    """Replies to a grading request from ``REPLIES``, reading the set and question from the request's text."""

    def __init__(self) -> None:
        self.requests: list[JudgeRequest] = []

    @property
    def name(self) -> str:
        return "table judge"

    def judge_many(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        self.requests.extend(requests)
        replies = []
        for request in requests:
            labels = _ANSWER.search(request.user).group(1)
            question = int(_QUESTION.search(request.user).group(1))
            replies.append(JudgeReply(request.request_id, REPLIES.get((labels, question), "Rating: [[1]]")))
        return replies


def answer(labels: tuple[str, ...], prompt_id: str) -> str:
    return f"answer for set [{''.join(labels)}]"


@pytest.fixture
def judged(tmp_path: Path):
    with Store.open(f"sqlite:///{tmp_path / 'judged.db'}") as store:
        judge = TableJudge()
        search = ToySearch.create(
            store, "judged", toy_problem("abc", prompts=PROMPTS), scorer_factory=lambda: JudgeScorer(judge)
        )
        outcome = search.driver(search.dispatcher(ScoreTable({}), answer=answer), max_steps=1).run()
        yield search, outcome, judge


def test_the_mean_is_over_the_parsed_judgements_and_the_excluded_ones_are_counted_and_stored(judged) -> None:
    search, _, judge = judged
    store = search.store

    (base,) = store.candidates_of_step("judged", 0)

    assert (base.status, base.score, base.n_scored) == (CandidateStatus.SCORED, 6.0, 2)
    assert base.stderr == 2.0  # the sample standard deviation of 8 and 4 (2.83) over sqrt(2)
    assert base.reason == "2 failed evaluation(s) excluded"
    evaluations = store.evaluations_for("judged", base.set_key)
    assert [e.score for e in evaluations] == [8.0, None, 4.0, None]
    assert evaluations[1].error.startswith('unparsable judgement: no rating in the form "[[rating]]" or "[rating]"')
    assert evaluations[3].error.startswith("unparsable judgement: rating 11 is outside 1..10")
    assert evaluations[1].detail["judge_reply"] == UNPARSABLE
    step_0 = store.steps("judged")[0]
    assert (step_0.score, step_0.stderr) == (6.0, 2.0)
    (summary,) = store.list_searches()
    assert (summary.evaluations, summary.failed_evaluations) == (4 * PROMPTS, 2 + 3)
    assert len(judge.requests) == 4 * PROMPTS


def test_an_unparsable_judgement_is_left_out_of_the_mean_never_counted_as_zero(judged) -> None:
    search, outcome, _ = judged

    candidates = search.candidates(1)

    assert (candidates["a"].score, candidates["a"].n_scored) == (9.0, 1)
    assert candidates["a"].reason == "3 failed evaluation(s) excluded"
    assert (candidates["b"].score, candidates["b"].n_scored, candidates["b"].reason) == (7.0, 4, None)
    assert candidates["c"].score == 1.0
    # With unparsable judgements as zeros, a would score 2.25 and lose to b; its one parsed 9 wins.
    assert search.chosen() == ["", "a"]
    assert outcome.stop_reason == "max_steps (1) reached"


class MeteredJudge(JudgeBackend):
    """Rates every answer 5 and reports 1,000 prompt tokens and 100 completion tokens per judgement."""

    @property
    def name(self) -> str:
        return "metered judge"

    def judge_many(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        return [JudgeReply(r.request_id, "[[5]]", prompt_tokens=1000, completion_tokens=100) for r in requests]


def test_a_usd_budget_stops_at_the_unit_that_reaches_it_counting_earlier_runs(tmp_path: Path) -> None:
    price = JudgePrice(input_per_mtok=1.0, output_per_mtok=10.0)  # 0.001 + 0.001 USD per judgement
    with Store.open(f"sqlite:///{tmp_path / 'metered.db'}") as store:
        search = ToySearch.create(store, "metered", toy_problem("abcd", prompts=PROMPTS),
                                  scorer_factory=lambda: JudgeScorer(MeteredJudge()))

        def run(max_usd: float):
            budget = Budget(max_usd=max_usd, judge_price=price)
            return search.driver(search.dispatcher(ScoreTable({}), answer=answer), max_steps=2, budget=budget).run()

        # Base set 4 judgements (0.008 USD), then one unit of 4 per candidate: the second unit of step 1 brings
        # the spending to 0.024 >= 0.02.
        outcome = run(0.02)
        (summary,) = store.list_searches()
        assert outcome.stop_reason == "budget exhausted"
        assert (summary.evaluations, summary.judge_prompt_tokens, summary.judge_completion_tokens) == (12, 12_000, 1_200)
        assert price.usd(summary.judge_prompt_tokens, summary.judge_completion_tokens) == pytest.approx(0.024)

        # A resume with more budget counts what the first run spent: two more units reach 0.04.
        outcome = run(0.04)
        (summary,) = store.list_searches()
        assert outcome.stop_reason == "budget exhausted"
        assert summary.evaluations == 20
