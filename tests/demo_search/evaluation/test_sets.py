"""The set scorer that ``evaluate`` and the test split share, with an in-process dispatcher: one unit per set,
multi-turn prompts asked after each set's own turn-1 answers, a failed unit reported, and nothing sent again for
pairs a sink already holds."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

from demo_search.evaluation.sets import MemorySink, SetJob, score_sets
from demo_search.scoring.judge import JudgeScorer
from demo_search.scoring.loglik import LoglikScorer
from demo_search.search.candidates import CandidateSet
from demo_search.types import HeldOutPrompt
from tests.support.fake_dispatcher import FakeDispatcher, ScoreTable
from tests.support.judges import RecordingJudge
from tests.support.toy_search import toy_demonstration, toy_problem
from workers.decoding import DecodingParams
from workers.units import UnitResult, WorkUnit

FIRST = HeldOutPrompt.create("question 0", "reference 0")
SECOND = HeldOutPrompt.create("follow-up 0", "reference f0", follows=FIRST.id)
OTHER = HeldOutPrompt.create("question 1", "reference 1")
PROMPTS = (FIRST, SECOND, OTHER)


@dataclasses.dataclass
class Recording:
    inner: FakeDispatcher
    units: list[WorkUnit] = dataclasses.field(default_factory=list)

    def run(self, units: Sequence[WorkUnit]) -> Iterator[UnitResult]:
        self.units.extend(units)
        return self.inner.run(units)


def jobs(*labels: str) -> list[SetJob]:
    """One job per label string: a prompt whose fixed demonstrations are those toy items ("" for none)."""
    base = dataclasses.replace(toy_problem("ab"), prompts=PROMPTS, pool=())
    return [
        SetJob(f"prompt{i}", dataclasses.replace(base, fixed=tuple(toy_demonstration(x) for x in label)),
               CandidateSet(()), MemorySink())
        for i, label in enumerate(labels)
    ]


def dispatcher(**options) -> Recording:
    tokenizer = toy_problem().tokenizer
    answer = lambda labels, prompt_id: f"answer of [{''.join(labels)}]"  # noqa: E731
    table = ScoreTable({"": 0.25, "a": 0.5, "ab": 0.75}, spread=(0.125, -0.125, 0.0))
    return Recording(FakeDispatcher(tokenizer, table, [p.id for p in PROMPTS], answer=answer, **options))


def test_each_set_is_one_unit_and_its_follow_ups_are_asked_after_its_own_answers() -> None:
    work = jobs("", "a")
    running = dispatcher()
    outcomes = score_sets(work, dispatcher=running, scorer=JudgeScorer(RecordingJudge()),
                          decoding=DecodingParams(max_tokens=8))

    first_round = [u for u in running.units if not u.unit_id.endswith(":round2")]
    follow_ups = [u for u in running.units if u.unit_id.endswith(":round2")]
    assert [len(u.tree.leaves) for u in first_round] == [2, 2] and [len(u.tree.leaves) for u in follow_ups] == [1, 1]
    for unit, labels in zip(follow_ups, ("", "a"), strict=True):
        (branch,) = unit.tree.branches
        (leaf,) = unit.tree.leaves
        text = running.inner.tokenizer.decode(list(unit.tree.full_prompt(branch, leaf, with_target=False)))
        assert f"answer of [{labels}]" in text and "follow-up 0" in text
    assert [(o.aggregate.n, o.not_scored, o.pairs_computed) for o in outcomes] == [(3, None, 3), (3, None, 3)]

    again = dispatcher()
    assert [o.pairs_computed for o in score_sets(work, dispatcher=again, scorer=JudgeScorer(RecordingJudge()),
                                                 decoding=DecodingParams(max_tokens=8))] == [0, 0]
    assert again.units == []


def test_scored_references_give_the_table_means_and_a_failed_unit_is_reported() -> None:
    work = jobs("", "ab", "a")
    outcomes = score_sets(work, dispatcher=dispatcher(fail={"a"}), scorer=LoglikScorer(), decoding=DecodingParams())
    assert [o.aggregate.mean for o in outcomes[:2]] == [0.25, 0.75]
    assert outcomes[2].not_scored.startswith("failed after 3 attempt(s): RuntimeError: injected failure")
    assert not outcomes[2].aggregate.valid
