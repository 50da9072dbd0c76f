"""A search's test split (``data.test``): the chosen set scored on test prompts that selection never sees.

After every recorded step (``data.test_every_step``), else once when the search ends, each recorded step's
chosen set (else only the last one) is scored on the test prompts, and the evaluations kept in the store's test
tables (:mod:`db.test_split`), apart from the held-out evaluations candidates are ranked on. Only missing
(set, test prompt) pairs are computed, so a resumed search, or one killed between a step and its test scoring,
catches up without repeating anything. The driver calls :meth:`TestSplit.step_recorded` and
:meth:`TestSplit.search_ended`; :data:`NO_TEST_SPLIT` does nothing for a search without one.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Sequence

from db import Evaluation as StoredEvaluation
from db import Step, Store, StoredItem
from demo_search.evaluation.sets import Dispatcher, SetJob, score_sets
from demo_search.scoring.base import Scorer
from demo_search.search.candidates import CandidateSet
from demo_search.search.problem import SearchProblem
from demo_search.types import HeldOutPrompt
from workers.decoding import DecodingParams

logger = logging.getLogger(__name__)


class NoTestSplit:
    """A search without test prompts: nothing to score."""

    def step_recorded(self) -> None:
        pass

    def search_ended(self) -> None:
        pass


NO_TEST_SPLIT = NoTestSplit()


class _StoredTestSink:
    """The store's test evaluations of search ``name`` as an :class:`~demo_search.evaluation.sets.EvaluationSink`."""

    def __init__(self, store: Store, name: str) -> None:
        self._store, self._name = store, name

    def stored_pairs(self, set_key: str) -> Collection[tuple[str, str]]:
        return self._store.test_evaluated_pairs(self._name, [set_key])

    def rows(self, set_key: str) -> Sequence[StoredEvaluation]:
        return self._store.test_evaluations_for(self._name, set_key)

    def record(self, rows: Sequence[StoredEvaluation]) -> None:
        self._store.record_test_evaluations(self._name, rows)


class TestSplit:
    """Scores the chosen sets of search ``name`` on ``problem``'s prompts (the test prompts), see the module
    docstring; ``decoding`` as the engines get it (the template's stop strings added)."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        *,
        name: str,
        store: Store,
        dispatcher: Dispatcher,
        problem: SearchProblem,
        scorer: Scorer,
        decoding: DecodingParams,
        every_step: bool,
    ) -> None:
        self.name, self.store, self.dispatcher = name, store, dispatcher
        self.problem, self.scorer, self.decoding = problem, scorer, decoding
        self.every_step = every_step
        self.pairs_computed = 0
        """(set, test prompt) pairs this object computed, over all its calls."""

    def step_recorded(self) -> None:
        """After a step was recorded: with ``every_step``, score every recorded step's chosen set still missing
        test pairs."""
        if self.every_step:
            self._score(self.store.steps(self.name))

    def search_ended(self) -> None:
        """When the search ends: score the recorded steps' chosen sets (``every_step``), else the last one."""
        steps = self.store.steps(self.name)
        self._score(steps if self.every_step else steps[-1:])

    def _score(self, steps: Sequence[Step]) -> None:
        missing = [(step, job) for step in steps if self._missing(job := self._job(step))]
        if not missing:
            return
        jobs = [job for _, job in missing]
        outcomes = score_sets(jobs, dispatcher=self.dispatcher, scorer=self.scorer, decoding=self.decoding)
        for (step, job), outcome in zip(missing, outcomes, strict=True):
            self.pairs_computed += outcome.pairs_computed
            score = outcome.aggregate
            validation = f"validation {step.score:.4f}" + ("" if step.stderr is None else f" ± {step.stderr:.4f}")
            if outcome.not_scored is not None:
                logger.warning("%s: %s; test set not scored (%s)", job.label, validation, outcome.not_scored)
            else:
                logger.info(
                    "%s: %s, test %.4f ± %.4f (n=%d)", job.label, validation, score.mean, score.stderr, score.n
                )

    def _job(self, step: Step) -> SetJob:
        chosen = next(c for c in self.store.candidates_of_step(self.name, step.step_index) if c.set_key == step.set_key)
        return SetJob(
            label=f"step {step.step_index}",
            problem=self.problem,
            candidate=CandidateSet(chosen.demo_ids, added=chosen.added_item_id),
            sink=_StoredTestSink(self.store, self.name),
        )

    def _missing(self, job: SetJob) -> bool:
        """Whether some (set, test prompt) pair of the job is not stored yet."""
        stored = job.sink.stored_pairs(job.candidate.key)
        return any((job.candidate.key, prompt.id) not in stored for prompt in self.problem.prompts)


def open_test_split(
    store: Store,
    name: str,
    *,
    test_prompts: Sequence[HeldOutPrompt] | None,
    problem: SearchProblem,
    every_step: bool,
    dispatcher: Dispatcher,
    scorer: Scorer,
    decoding: DecodingParams,
) -> TestSplit | NoTestSplit:
    """The test split of search ``name``: its ``test_prompts`` recorded in the store (once) and scored with the
    search's ``problem`` (template, rules, fixed demonstrations, pool) on them; :data:`NO_TEST_SPLIT` when the
    search has none."""
    if not test_prompts:
        return NO_TEST_SPLIT
    stored = [StoredItem(item_id=p.id, position=i, payload=p.to_payload()) for i, p in enumerate(test_prompts)]
    store.record_test_prompts(name, stored)
    return TestSplit(
        name=name, store=store, dispatcher=dispatcher,
        problem=dataclasses.replace(problem, prompts=tuple(test_prompts)),
        scorer=scorer, decoding=problem.template.generation_params(decoding), every_step=every_step,
    )


__all__ = ["NO_TEST_SPLIT", "NoTestSplit", "TestSplit", "open_test_split"]
