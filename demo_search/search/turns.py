"""Held-out prompts that follow others (MT-Bench's turn 2): which ones are asked first, and their histories filled.

A prompt with ``follows`` set is asked after the prompt it follows, in the same conversation (see
``HeldOutPrompt.follows``). Its history is filled here, with one rule for every prompt: the followed prompt's
own (filled) history, then the followed prompt's query with an answer to it. Which answer depends on what the
search computes:

* generating answers (judge, match, reward scorers): the answer the model generated to the followed prompt
  *under the same candidate set*, as MT-Bench (FastChat) asks turn 2 after the model's own turn-1 answer. The
  search therefore generates in rounds: the prompts that follow nothing first, then each candidate's follow-ups
  filled with that candidate's stored answers (:func:`fill_round`).
* scoring the log-likelihood of references (loglik): the followed prompt's reference answer (the reference
  conversation is scored, nothing is generated), so every prompt is ready at once (:func:`with_references`).

A filled prompt keeps its id, so its evaluation is stored under the prompt the data file defined.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from db import Evaluation as StoredEvaluation
from demo_search.search.candidates import CandidateSet
from demo_search.types import HeldOutPrompt, Turn
from workers.decoding import DecodingParams
from workers.units import WorkUnit

if TYPE_CHECKING:
    from demo_search.search.problem import SearchProblem

Answers = Callable[[str], str | None]
"""The answer to the prompt of an id, or ``None`` when there is none."""


def first_round(prompts: Sequence[HeldOutPrompt]) -> tuple[HeldOutPrompt, ...]:
    """The prompts that follow no other prompt: the ones a search can ask before it has any answer."""
    return tuple(prompt for prompt in prompts if prompt.follows is None)


def follow_ups(prompts: Sequence[HeldOutPrompt]) -> tuple[HeldOutPrompt, ...]:
    """The prompts that follow another prompt, in the given order."""
    return tuple(prompt for prompt in prompts if prompt.follows is not None)


def filled(
    prompt: HeldOutPrompt, prompts_by_id: Mapping[str, HeldOutPrompt], answer_of: Answers
) -> HeldOutPrompt | None:
    """``prompt`` with its history filled (see the module docstring), or ``None`` when an answer it needs (to the
    prompt it follows, or to an earlier one in the chain) is missing. A prompt that follows nothing is returned
    as it is."""
    if prompt.follows is None:
        return prompt
    followed = prompts_by_id.get(prompt.follows)
    answer = answer_of(prompt.follows)
    if followed is None or answer is None:
        return None
    earlier = filled(followed, prompts_by_id, answer_of)
    if earlier is None:
        return None
    return dataclasses.replace(prompt, history=(*earlier.history, Turn(followed.query, answer)))


def fill_round(
    prompts: Sequence[HeldOutPrompt], answers: Mapping[str, str], done: set[str] | frozenset[str]
) -> tuple[HeldOutPrompt, ...]:
    """The follow-ups of ``prompts`` that can be asked now for one candidate set: not in ``done`` (evaluated
    already), and every prompt they follow answered in ``answers`` (prompt id to the answer generated to it);
    each filled with those answers."""
    prompts_by_id = {prompt.id: prompt for prompt in prompts}
    ready = (filled(prompt, prompts_by_id, answers.get) for prompt in follow_ups(prompts) if prompt.id not in done)
    return tuple(prompt for prompt in ready if prompt is not None)


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


def with_references(prompts: Sequence[HeldOutPrompt]) -> tuple[HeldOutPrompt, ...]:
    """Every prompt, the follow-ups filled with the reference answers of the prompts they follow; ``ValueError``
    naming the first follow-up whose chain lacks a reference."""
    prompts_by_id = {prompt.id: prompt for prompt in prompts}

    def reference_of(prompt_id: str) -> str | None:
        followed = prompts_by_id.get(prompt_id)
        return None if followed is None else followed.reference

    result = []
    for prompt in prompts:
        ready = filled(prompt, prompts_by_id, reference_of)
        if ready is None:
            raise ValueError(
                f"held-out prompt {prompt.source or prompt.id} follows a prompt without a reference answer, which "
                "scoring references needs in its history"
            )
        result.append(ready)
    return tuple(result)


__all__ = [
    "Answers",
    "FollowUpRound",
    "fill_round",
    "filled",
    "first_round",
    "follow_ups",
    "plan_follow_ups",
    "with_references",
]
