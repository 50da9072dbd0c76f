"""One trial's evaluation: its decoding parameters as one work unit, the unit's answers as the trial's score."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from db import Evaluation
from demo_search.faults import failpoint
from demo_search.scoring.base import Scorer
from demo_search.search.candidates import Aggregate
from demo_search.search.step_units import evaluation_rows
from demo_search.templates import PromptTemplate, longest_request
from demo_search.tuning.errors import TuningError
from demo_search.types import HeldOutPrompt
from workers.decoding import DecodingParams
from workers.tree import PrefixTree
from workers.units import UnitResult, WorkUnit

UNIT_PREFIX = "trial-"


@dataclass(frozen=True)
class TrialScore:
    """The mean score of a trial's answers on the held-out prompts (failed evaluations excluded and counted), or
    why the trial has no score (``error``)."""

    aggregate: Aggregate
    error: str | None = None

    @property
    def valid(self) -> bool:
        return self.error is None and self.aggregate.valid


class TrialObjective:
    """Evaluates decoding parameters on one prompt: :meth:`unit` builds a trial's work unit, :meth:`score` reads
    the unit's result.

    Every unit carries the same prefix tree (the whole context is its shared prefix), so each actor computes the
    context once and a trial pays only for its leaves. The branch id, hence each request's random stream when the
    parameters carry a seed, is the same in every trial: trials are compared on the same draws.
    """

    def __init__(
        self, tree: PrefixTree, template: PromptTemplate, scorer: Scorer, prompts_by_id: Mapping[str, HeldOutPrompt]
    ) -> None:
        if scorer.engine_call != "generate":
            raise ValueError(f"{type(scorer).__name__} does not score generated answers; decoding cannot matter")
        self._tree = tree
        self._template = template
        self._scorer = scorer
        self._prompts_by_id = dict(prompts_by_id)

    @property
    def tree(self) -> PrefixTree:
        return self._tree

    def check_fits(self, max_context: int, max_new_tokens: int) -> None:
        """Raise ``TuningError`` unless the longest prompt plus ``max_new_tokens`` fits ``max_context`` tokens."""
        need = longest_request(self._tree, with_targets=False, max_new_tokens=max_new_tokens)
        if need > max_context:
            raise TuningError(
                "the prompt tuned for does not fit the model's context window",
                [f"its longest request needs {need} tokens (with max_tokens={max_new_tokens}) but the context "
                 f"window is {max_context}; lower decoding.max_tokens (or tuning.ranges.max_tokens.high)"],
            )

    @staticmethod
    def unit_id(number: int) -> str:
        return f"{UNIT_PREFIX}{number}"

    def unit(self, number: int, params: DecodingParams) -> WorkUnit:
        """Trial ``number``'s work unit: every held-out prompt answered with ``params`` (plus the template's stop
        strings)."""
        return WorkUnit(self.unit_id(number), "generate", self._tree, self._template.generation_params(params))

    def evaluations(self, result: UnitResult) -> list[Evaluation]:
        """The evaluations of a successful trial unit's answers (each cut out of its generation first), as the
        search stores its own (``set_key``: the unit id)."""
        return evaluation_rows(result.unit_id, result, self._scorer, self._template, self._prompts_by_id)

    def score(self, result: UnitResult, reused: Sequence[Evaluation] = ()) -> TrialScore:
        """The trial's score from its unit's result and the evaluations of its leaves that the evaluation ledger
        answered (``reused``; the unit then held only the other leaves)."""
        if not result.ok:
            return TrialScore(Aggregate.of([]), f"engine failure after {result.attempts} attempt(s): {result.error}")
        return self.score_of([*reused, *self.evaluations(result)])

    @staticmethod
    def score_of(evaluations: Sequence[Evaluation]) -> TrialScore:
        """The mean of ``evaluations`` (failed ones excluded and counted)."""
        scores = [e.score for e in evaluations if e.score is not None]
        aggregate = Aggregate.of(scores, n_failed=len(evaluations) - len(scores))
        failpoint("tuning_trial_scored")
        if not aggregate.valid:
            example = next((e.error for e in evaluations if e.error), "no evaluation returned")
            return TrialScore(aggregate, f"all {len(evaluations)} evaluation(s) failed, e.g. {example}")
        return TrialScore(aggregate)


__all__ = ["UNIT_PREFIX", "TrialObjective", "TrialScore"]
