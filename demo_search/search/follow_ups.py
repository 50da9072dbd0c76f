"""A step's follow-up rounds: the units that ask each candidate set its follow-ups, filled with its answers.

See :mod:`demo_search.search.turns` for which prompts follow others and how their histories are filled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from db import Evaluation as StoredEvaluation
from demo_search.search.candidates import CandidateSet
from demo_search.search.problem import SearchProblem
from demo_search.search.turns import fill_round
from demo_search.types import HeldOutPrompt
from workers.decoding import DecodingParams
from workers.units import WorkUnit


@dataclass(frozen=True)
class FollowUpRound:
    """The work of one follow-up round of a step: one generate unit per candidate set that has follow-ups ready.

    ``set_keys`` and ``prompts`` map a unit id to its set key and to the held-out prompts of its leaves (the
    filled follow-ups over the search's prompts); ``not_asked`` are the failed evaluations of filled prompts that
    do not fit the context window, each saying why.
    """

    units: tuple[WorkUnit, ...]
    set_keys: Mapping[str, str]
    prompts: Mapping[str, Mapping[str, HeldOutPrompt]]
    not_asked: tuple[StoredEvaluation, ...]


def plan_follow_ups(
    problem: SearchProblem,
    answered: Iterable[tuple[CandidateSet, Sequence[StoredEvaluation]]],
    *,
    step: int,
    round_index: int,
    decoding: DecodingParams,
) -> FollowUpRound:
    """The next follow-up round of ``step``: for each candidate set with its stored evaluations, the follow-ups
    :func:`fill_round` finds ready (answers: the stored outputs), as one single-branch unit ``step:set
    key:round<n>``. A filled prompt whose request (with ``decoding.max_tokens``) exceeds the context window is not
    asked but returned in ``not_asked``, so it counts as a failed evaluation and is not planned again."""
    units: list[WorkUnit] = []
    set_keys: dict[str, str] = {}
    prompts: dict[str, Mapping[str, HeldOutPrompt]] = {}
    not_asked: list[StoredEvaluation] = []
    for candidate, rows in answered:
        answers = {row.prompt_id: row.output for row in rows if row.output is not None}
        ready = fill_round(problem.prompts, answers, {row.prompt_id for row in rows})
        if not ready:
            continue
        tree = problem.step_tree([candidate], with_targets=False, prompts=ready)
        fitting = []
        for leaf in tree.leaves:
            alone = dataclasses.replace(tree, leaves=(leaf,))
            reasons = problem.over_context(alone, with_targets=False, max_new_tokens=decoding.max_tokens)
            if reasons:
                reason = f"not asked: {reasons[candidate.key]}"
                not_asked.append(StoredEvaluation(candidate.key, leaf.leaf_id, score=None, error=reason))
            else:
                fitting.append(leaf)
        if fitting:
            unit_id = f"{step}:{candidate.key}:round{round_index}"
            units.append(WorkUnit(unit_id, "generate", dataclasses.replace(tree, leaves=tuple(fitting)), decoding))
            set_keys[unit_id] = candidate.key
            prompts[unit_id] = {**problem.prompts_by_id, **{prompt.id: prompt for prompt in ready}}
    return FollowUpRound(tuple(units), set_keys, prompts, tuple(not_asked))


__all__ = ["FollowUpRound", "plan_follow_ups"]
