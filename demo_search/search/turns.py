"""Held-out prompts that follow others (MT-Bench's turn 2): which ones are asked first, and their histories filled.

A prompt with ``follows`` set is asked after the prompt it follows, in the same conversation (see
``HeldOutPrompt.follows``). Its history is filled here, with one rule for every prompt: the followed prompt's
own (filled) history, then the followed prompt's query with an answer to it. Which answer depends on what the
search computes:

* generating answers (judge, match, reward scorers): the answer the model generated to the followed prompt
  *under the same candidate set*, as MT-Bench (FastChat) asks turn 2 after the model's own turn-1 answer. The
  search therefore generates in rounds: the prompts that follow nothing first, then each candidate's follow-ups
  filled with that candidate's stored answers (:func:`fill_round`, planned by
  :func:`demo_search.search.follow_ups.plan_follow_ups`).
* scoring the log-likelihood of references (loglik): the followed prompt's reference answer (the reference
  conversation is scored, nothing is generated), so every prompt is ready at once (:func:`with_references`).

A filled prompt keeps its id, so its evaluation is stored under the prompt the data file defined.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

from demo_search.types import HeldOutPrompt, Turn

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
    "fill_round",
    "filled",
    "first_round",
    "follow_ups",
    "with_references",
]
