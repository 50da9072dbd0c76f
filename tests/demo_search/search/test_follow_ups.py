"""MT-Bench's turn 2 in a search: asked after the answer the model gave to turn 1 under the same candidate set.

The driver, the prompt rendering (URIAL template, byte tokenizer), the judge scorer and the store are the
product's; the dispatcher is the fake of ``tests.support.fake_dispatcher``, wrapped to keep the units it got, so
the tests read the turn-2 prompts the driver sent and the judge requests the scorer built.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from db import Store
from demo_search.scoring.judge import JudgeScorer
from demo_search.scoring.loglik import LoglikScorer
from demo_search.search.candidates import CandidateSet
from demo_search.templates import longest_request
from demo_search.types import HeldOutPrompt
from tests.support.fake_dispatcher import DispatcherKilled, FakeDispatcher, ScoreTable
from tests.support.judges import RecordingJudge
from tests.support.toy_search import ToySearch, toy_problem
from workers.decoding import DecodingParams
from workers.units import UnitResult, WorkUnit

MATH = HeldOutPrompt.create("question 0", "reference 0", category="math")
MATH_2 = HeldOutPrompt.create("follow-up 0", "reference f0", category="math", follows=MATH.id)
WRITING = HeldOutPrompt.create("question 1", category="writing")
WRITING_2 = HeldOutPrompt.create("follow-up 1", category="writing", follows=WRITING.id)
PROMPTS = (MATH, MATH_2, WRITING, WRITING_2)
FIRST_TURNS = {MATH.id, WRITING.id}
FOLLOW_UPS = {MATH_2.id, WRITING_2.id}
NAMES = {p.id: p.query for p in PROMPTS}


def answer(labels: tuple[str, ...], prompt_id: str) -> str:
    return f"answer of [{''.join(labels)}] to {NAMES[prompt_id]}"


@dataclasses.dataclass
class Recording:
    """A fake dispatcher that keeps every unit it was sent, in order."""

    inner: FakeDispatcher
    units: list[WorkUnit] = dataclasses.field(default_factory=list)

    def run(self, units: Sequence[WorkUnit]) -> Iterator[UnitResult]:
        self.units.extend(units)
        return self.inner.run(units)

    def prompt_texts(self, unit: WorkUnit) -> dict[str, str]:
        """Each leaf's whole prompt as text (where the tree cuts it into prefix, branch and leaf is the
        tokenizer's business)."""
        tokenizer, tree = self.inner.tokenizer, unit.tree
        (branch,) = tree.branches
        return {x.leaf_id: tokenizer.decode(list(tree.full_prompt(branch, x, with_target=False))) for x in tree.leaves}


def search(store: Store, name: str, scorer_factory, *, max_context: int | None = None) -> ToySearch:
    problem = dataclasses.replace(toy_problem("ab"), prompts=PROMPTS)
    if max_context is not None:
        problem = dataclasses.replace(problem, max_context=max_context)
    return ToySearch.create(store, name, problem, scorer_factory=scorer_factory)


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(f"sqlite:///{tmp_path / 'turns.db'}") as opened:
        yield opened


def test_turn_two_is_generated_after_the_sets_own_turn_one_answer_and_judged_as_fastchat_does(store: Store) -> None:
    judge = RecordingJudge()
    toy = search(store, "turns", lambda: JudgeScorer(judge))
    dispatcher = Recording(toy.dispatcher(ScoreTable({}), answer=answer))
    toy.driver(dispatcher, max_steps=1).run()  # type: ignore[arg-type]

    # every set is asked its first turns in one unit, then its follow-ups in a second unit of its own
    rounds = [(unit.unit_id.endswith(":round2"), set(dispatcher.prompt_texts(unit))) for unit in dispatcher.units]
    base, step_one = [(False, FIRST_TURNS), (True, FOLLOW_UPS)], [(False, FIRST_TURNS)] * 2 + [(True, FOLLOW_UPS)] * 2
    assert rounds == base + step_one
    for unit in dispatcher.units:
        if unit.unit_id.endswith(":round2"):
            labels = "".join(dispatcher.inner.labels_of(unit.tree))
            texts = dispatcher.prompt_texts(unit)
            own = f"# Query:\n```\nquestion 0\n```\n\n# Answer:\n```\nanswer of [{labels}] to question 0\n```\n\n"
            assert own + "# Query:\n```\nfollow-up 0" in texts[MATH_2.id] and "follow-up 0" in texts[MATH_2.id]
            assert "reference 0" not in texts[MATH_2.id]
    assert {toy.labels(c.demo_ids): c.n_scored for c in toy.store.candidates_of_step("turns", 1)} == {"a": 4, "b": 4}

    turn_two = [r for r in judge.requests if "follow-up 0" in r.user and "[a]" in r.user]
    (request,) = turn_two
    assert request.template == "single-math-v1-multi-turn"
    reference_part, assistant_part = request.user.split("\n\n\n")
    assert "### Reference answer:\nreference 0" in reference_part and "reference f0" in reference_part
    assert "### Assistant A:\nanswer of [a] to question 0\n\n### User:\nfollow-up 0" in assistant_part
    writing = [r.template for r in judge.requests if "follow-up 1" in r.user]
    assert writing == ["single-v1-multi-turn"] * 3


def test_a_resumed_step_fills_turn_two_with_the_stored_turn_one_answers(store: Store) -> None:
    toy = search(store, "resumed", lambda: JudgeScorer(RecordingJudge()))
    first = toy.dispatcher(ScoreTable({}), answer=answer, die_after=1)
    with pytest.raises(DispatcherKilled):
        toy.driver(first, max_steps=0).run()  # the base set's turn 1 is stored, its turn 2 is not
    assert {e.prompt_id for e in store.evaluations_for("resumed", CandidateSet(()).key)} == FIRST_TURNS

    dispatcher = Recording(toy.dispatcher(ScoreTable({}), answer=lambda labels, pid: "a different answer"))
    toy.driver(dispatcher, max_steps=0).run()  # type: ignore[arg-type]
    (unit,) = dispatcher.units
    texts = dispatcher.prompt_texts(unit)
    assert set(texts) == {MATH_2.id, WRITING_2.id}
    assert "answer of [] to question 1" in texts[WRITING_2.id] and "a different answer" not in texts[WRITING_2.id]


def test_scoring_references_asks_every_turn_at_once_after_the_reference_of_the_turn_before(store: Store) -> None:
    prompts = (MATH, MATH_2)
    problem = dataclasses.replace(toy_problem("ab"), prompts=prompts)
    toy = ToySearch.create(store, "loglik", problem, scorer_factory=LoglikScorer)
    dispatcher = Recording(toy.dispatcher(ScoreTable({})))
    toy.driver(dispatcher, max_steps=1).run()  # type: ignore[arg-type]

    assert [set(dispatcher.prompt_texts(u)) for u in dispatcher.units] == [{MATH.id, MATH_2.id}] * 3
    text = dispatcher.prompt_texts(dispatcher.units[0])[MATH_2.id]
    assert "# Query:\n```\nquestion 0\n```\n\n# Answer:\n```\nreference 0\n```\n\n# Query:\n```\nfollow-up 0" in text


def test_a_turn_two_that_no_longer_fits_the_context_is_a_failed_evaluation_saying_why(store: Store) -> None:
    decoding = DecodingParams(max_tokens=16)
    probe = dataclasses.replace(toy_problem("ab"), prompts=PROMPTS)
    step_one = [CandidateSet(()).extend(demo_id) for demo_id in probe.pool_ids]
    tree = probe.step_tree(step_one, with_targets=False)
    fits_turn_one = longest_request(tree, with_targets=False, max_new_tokens=16)
    toy = search(store, "long", lambda: JudgeScorer(RecordingJudge()), max_context=fits_turn_one + 20)
    long_answer = lambda labels, pid: "x" * 200  # noqa: E731
    toy.driver(toy.dispatcher(ScoreTable({}), answer=long_answer), max_steps=1, decoding=decoding).run()

    for candidate in store.candidates_of_step("long", 1):
        rows = {e.prompt_id: e for e in store.evaluations_for("long", candidate.set_key)}
        assert rows[MATH.id].score == 5.0 and rows[WRITING.id].score == 5.0
        for follow_up in (MATH_2.id, WRITING_2.id):
            assert rows[follow_up].score is None and rows[follow_up].output is None
            assert rows[follow_up].error.startswith("not asked: its longest prompt needs ")
            assert f"the context window is {fits_turn_one + 20}" in rows[follow_up].error
        assert (candidate.n_scored, candidate.reason) == (2, "2 failed evaluation(s) excluded")
