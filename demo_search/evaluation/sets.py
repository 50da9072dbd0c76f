"""Score fixed demonstration sets on prompts through the engine actors: one unit per set, then the follow-up
rounds of multi-turn prompts, each finished unit handed to the set's sink at once.

What the search's test split (``demo_search.search.test_split``) and ``demo-search evaluate``
(``demo_search.evaluation.evaluate``) share. A set's pairs already in its sink are not sent again, so a resumed
run computes only what is missing.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from db import Evaluation as StoredEvaluation
from demo_search.scoring.base import Scorer
from demo_search.search.candidates import Aggregate, CandidateSet
from demo_search.search.follow_ups import plan_follow_ups
from demo_search.search.problem import SearchProblem
from demo_search.search.step_units import candidate_units, evaluation_rows
from demo_search.types import HeldOutPrompt
from workers.decoding import DecodingParams
from workers.units import UnitResult, WorkUnit

logger = logging.getLogger(__name__)


class Dispatcher(Protocol):
    """``workers.dispatch.Dispatcher`` as used here: ``run(units)`` yields one result per unit."""

    def run(self, units: Sequence[WorkUnit]) -> Iterator[UnitResult]: ...


class EvaluationSink(Protocol):
    """Where one set's evaluations are kept (the store's test split, or memory).

    ``stored_pairs`` are its (set key, prompt id) pairs already kept; ``rows`` its kept evaluations of a set (its
    answers, which fill its follow-up prompts); ``record`` keeps one unit's evaluations, a pair kept already
    staying as it was."""

    def stored_pairs(self, set_key: str) -> Collection[tuple[str, str]]: ...

    def rows(self, set_key: str) -> Sequence[StoredEvaluation]: ...

    def record(self, rows: Sequence[StoredEvaluation]) -> None: ...


class MemorySink:
    """Keeps the evaluations in memory (``demo-search evaluate``: nothing is stored)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], StoredEvaluation] = {}

    def stored_pairs(self, set_key: str) -> Collection[tuple[str, str]]:
        return {pair for pair in self._rows if pair[0] == set_key}

    def rows(self, set_key: str) -> Sequence[StoredEvaluation]:
        return [row for (key, _), row in self._rows.items() if key == set_key]

    def record(self, rows: Sequence[StoredEvaluation]) -> None:
        for row in rows:
            self._rows.setdefault((row.set_key, row.prompt_id), row)


@dataclass(frozen=True)
class SetJob:
    """One demonstration set to score: ``candidate`` within ``problem`` (template, rules, fixed demonstrations,
    pool and the prompts it is scored on), its evaluations kept in ``sink``; ``label`` names it in unit ids and
    logs."""

    label: str
    problem: SearchProblem
    candidate: CandidateSet
    sink: EvaluationSink


@dataclass(frozen=True)
class SetOutcome:
    """What a job came to: its aggregate over the prompts of its problem (failed pairs counted, not averaged), the
    reason it was not scored (``None`` when it was), and how many pairs this run computed."""

    aggregate: Aggregate
    not_scored: str | None
    pairs_computed: int


def score_sets(
    jobs: Sequence[SetJob], *, dispatcher: Dispatcher, scorer: Scorer, decoding: DecodingParams
) -> list[SetOutcome]:
    """Score every job's set (only the pairs its sink lacks), all jobs' units in one dispatch per round;
    ``decoding`` is given as the engines get it (the template's stop strings added). One outcome per job."""
    with_targets = scorer.engine_call == "score"
    reasons: dict[int, str] = {}
    computed = [0] * len(jobs)
    units: list[WorkUnit] = []
    owners: dict[str, tuple[int, Mapping[str, HeldOutPrompt]]] = {}
    for index, job in enumerate(jobs):
        problem, key = job.problem, job.candidate.key
        tree = problem.step_tree([job.candidate], with_targets=with_targets)
        max_new = 0 if with_targets else decoding.max_tokens
        skipped = problem.over_context(tree, with_targets=with_targets, max_new_tokens=max_new)
        if skipped:
            reasons[index] = f"skipped: {skipped[key]}"
            continue
        found, _ = candidate_units(
            tree, step=0, skipped=(), stored=job.sink.stored_pairs(key), kind=scorer.engine_call, decoding=decoding
        )
        for unit in found:
            unit_id = f"{job.label}:{key}"
            units.append(dataclasses.replace(unit, unit_id=unit_id))
            owners[unit_id] = (index, problem.prompts_by_id)
    _run(units, owners, jobs, scorer, dispatcher, reasons, computed)
    round_index = 1
    while not with_targets:
        round_index += 1
        units, owners = [], {}
        for index, job in enumerate(jobs):
            if index in reasons or not job.problem.follow_ups:
                continue
            plan = plan_follow_ups(
                job.problem, [(job.candidate, job.sink.rows(job.candidate.key))], step=0, round_index=round_index,
                decoding=decoding,
            )
            if plan.not_asked:
                job.sink.record(list(plan.not_asked))
            for unit in plan.units:
                unit_id = f"{job.label}:{unit.unit_id}"
                units.append(dataclasses.replace(unit, unit_id=unit_id))
                owners[unit_id] = (index, plan.prompts[unit.unit_id])
        if not units:
            break
        _run(units, owners, jobs, scorer, dispatcher, reasons, computed)
    return [_outcome(job, reasons.get(index), computed[index]) for index, job in enumerate(jobs)]


def _run(
    units: list[WorkUnit],
    owners: Mapping[str, tuple[int, Mapping[str, HeldOutPrompt]]],
    jobs: Sequence[SetJob],
    scorer: Scorer,
    dispatcher: Dispatcher,
    reasons: dict[int, str],
    computed: list[int],
) -> None:
    if not units:
        return
    results = dispatcher.run(units)
    try:
        for result in results:
            index, prompts = owners[result.unit_id]
            job = jobs[index]
            if not result.ok:
                reasons[index] = f"failed after {result.attempts} attempt(s): {result.error or 'unknown error'}"
                logger.error("%s: unit %s failed: %s", job.label, result.unit_id, result.error)
                continue
            rows = evaluation_rows(job.candidate.key, result, scorer, job.problem.template, prompts)
            job.sink.record(rows)
            computed[index] += len(rows)
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()


def _outcome(job: SetJob, reason: str | None, computed: int) -> SetOutcome:
    prompts = job.problem.prompts_by_id
    rows = [row for row in job.sink.rows(job.candidate.key) if row.prompt_id in prompts]
    scores = [row.score for row in rows if row.score is not None]
    aggregate = Aggregate.of(scores, n_failed=len(rows) - len(scores))
    if reason is None and not aggregate.valid:
        reason = f"all {len(rows)} evaluations failed" + (f", e.g. {rows[0].error}" if rows else "")
    return SetOutcome(aggregate, reason, computed)


__all__ = ["EvaluationSink", "MemorySink", "SetJob", "SetOutcome", "score_sets"]
