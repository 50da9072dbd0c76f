"""MT-Bench single-answer grading prompts, and reading the ``[[rating]]`` out of a judge's reply.

The texts are those of MT-Bench (FastChat ``llm_judge/data/judge_prompts.jsonl``), chosen as FastChat's
``gen_judgment.py`` chooses them:

* ``single-v1``: a prompt graded without reference answer;
* ``single-math-v1``: the reference-guided variant, used only for the categories FastChat gives a reference
  (``NEED_REF_CATS``: math, reasoning, coding, arena-hard-200; :func:`uses_reference`), when the prompt has a
  reference answer (and reference use is on). A prompt without a category (data formats other than MT-Bench)
  is graded with its reference whenever it has one;
* ``single-v1-multi-turn`` / ``single-math-v1-multi-turn``: used when the held-out prompt has earlier turns.
  The conversation shows each earlier turn with the answer in the prompt's history, which for MT-Bench's turn
  2 is the model's own turn-1 answer (the search fills it, see ``HeldOutPrompt.follows``); the reference
  conversation shows each earlier turn with *its* reference answer (:func:`reference_turns`). MT-Bench's
  versions have exactly two turns; here the layout is extended to any number of earlier turns, and the
  instruction still asks about the answer to the last question.

Rating format (:func:`parse_rating`): the rating is the *last* ``[[n]]`` in the reply (``n`` an integer or a
decimal); if the reply has none, the last ``[n]`` is taken, as MT-Bench's fallback does. MT-Bench takes the
first match; the last is taken here because the rating is asked for *after* the explanation, and an
explanation may quote the format (``"[[rating]]"``, ``[[5]]``) before giving its own rating. A rating outside
1..10, or a reply with neither form, is no rating.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from demo_search.types import HeldOutPrompt, Turn

SYSTEM_PROMPT = "You are a helpful assistant."

_RATING_INSTRUCTION = (
    "Be as objective as possible. After providing your explanation, you must rate the response on a scale of 1 to "
    '10 by strictly following this format: "[[rating]]", for example: "Rating: [[5]]".'
)

SINGLE_V1 = (
    "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question displayed below. Your evaluation should consider factors such as the "
    "helpfulness, relevance, accuracy, depth, creativity, and level of detail of the response. Begin your evaluation "
    f"by providing a short explanation. {_RATING_INSTRUCTION}\n\n"
    "[Question]\n{question}\n\n"
    "[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]"
)
"""MT-Bench ``single-v1`` user message."""

SINGLE_MATH_V1 = (
    "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question displayed below. Your evaluation should consider correctness and helpfulness. "
    "You will be given a reference answer and the assistant's answer. Begin your evaluation by comparing the "
    f"assistant's answer with the reference answer. Identify and correct any mistakes. {_RATING_INSTRUCTION}\n\n"
    "[Question]\n{question}\n\n"
    "[The Start of Reference Answer]\n{reference}\n[The End of Reference Answer]\n\n"
    "[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]"
)
"""MT-Bench ``single-math-v1`` user message (reference-guided)."""

MULTI_TURN_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the response provided by an AI assistant to the "
    "user question displayed below. Your evaluation should consider factors such as the helpfulness, relevance, "
    "accuracy, depth, creativity, and level of detail of the response. You evaluation should focus on the "
    "assistant's answer to the second user question. Begin your evaluation by providing a short explanation. "
    f"{_RATING_INSTRUCTION}\n\n"
)
"""MT-Bench ``single-v1-multi-turn`` system message (its typo "You evaluation" kept, as MT-Bench sent it)."""

MULTI_TURN_MATH_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the response provided by an AI assistant to the "
    "user question. Your evaluation should consider correctness and helpfulness. You will be given a reference "
    "answer and the assistant's answer. You evaluation should focus on the assistant's answer to the second "
    "question. Begin your evaluation by comparing the assistant's answer with the reference answer. Identify and "
    f"correct any mistakes. {_RATING_INSTRUCTION}\n\n"
)
"""MT-Bench ``single-math-v1-multi-turn`` system message."""

_SECOND = "second"


@dataclass(frozen=True)
class JudgeRequest:
    """One conversation sent to a judge: a system message and a user message.

    ``request_id`` is unique within one ``JudgeBackend.judge_many`` call; ``template`` names the MT-Bench
    template it was built from (stored with the judgement).
    """

    request_id: str
    system: str
    user: str
    template: str = "single-v1"

    def messages(self) -> list[dict[str, str]]:
        """The OpenAI-style chat messages (system, then user)."""
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]


REFERENCE_CATEGORIES = frozenset({"math", "reasoning", "coding", "arena-hard-200"})
"""The categories graded with a reference answer: FastChat's ``NEED_REF_CATS`` (``llm_judge/common.py``)."""


def uses_reference(prompt: HeldOutPrompt) -> bool:
    """Whether ``prompt`` is graded against its reference answer: it has one, and its category is one of
    :data:`REFERENCE_CATEGORIES` or it has no category at all."""
    return prompt.reference is not None and (prompt.category is None or prompt.category in REFERENCE_CATEGORIES)


def reference_turns(prompt: HeldOutPrompt, prompts: Mapping[str, HeldOutPrompt]) -> tuple[Turn, ...] | None:
    """The earlier turns of ``prompt`` with their reference answers, as the reference conversation shows them.

    For a prompt that follows others (``follows``, looked up in ``prompts``): each followed prompt's query with
    its reference, after the first one's own history; for a prompt with fixed history only: that history as
    given (the data file's answers). ``None`` when a followed prompt is unknown or has no reference.
    """
    chain: list[Turn] = []
    current = prompt
    while current.follows is not None:
        followed = prompts.get(current.follows)
        if followed is None or followed.reference is None:
            return None
        chain.append(Turn(followed.query, followed.reference))
        current = followed
    return (*current.history, *reversed(chain))


def build_judge_request(
    request_id: str,
    prompt: HeldOutPrompt,
    answer: str,
    *,
    prompts: Mapping[str, HeldOutPrompt] | None = None,
    use_reference: bool = True,
) -> JudgeRequest:
    """The MT-Bench grading request for ``answer`` to ``prompt``.

    The reference-guided template is used when ``use_reference`` and :func:`uses_reference` and, for a prompt
    with earlier turns, every earlier turn has a reference (:func:`reference_turns`, which looks followed
    prompts up in ``prompts``); the multi-turn layout when the prompt has earlier turns (``prompt.history``).
    A prompt that follows another must come with its history filled (the answers the model gave), else
    ``ValueError``.
    """
    if prompt.follows is not None and not prompt.history:
        raise ValueError(
            f"held-out prompt {prompt.id!r} follows {prompt.follows!r} but its history was not filled with the "
            "answer generated to that prompt"
        )
    reference = prompt.reference if use_reference and uses_reference(prompt) else None
    if not prompt.history:
        if reference is None:
            return JudgeRequest(request_id, SYSTEM_PROMPT, SINGLE_V1.format(question=prompt.query, answer=answer))
        user = SINGLE_MATH_V1.format(question=prompt.query, reference=reference, answer=answer)
        return JudgeRequest(request_id, SYSTEM_PROMPT, user, template="single-math-v1")
    turns = (*prompt.history, Turn(prompt.query, answer))
    ordinal = _ordinal(len(turns))
    conversation = _conversation("Assistant A's Conversation with User", "Assistant A", turns)
    earlier = reference_turns(prompt, prompts or {}) if reference is not None else None
    if earlier is None:
        system = MULTI_TURN_SYSTEM.replace(_SECOND, ordinal, 1)
        return JudgeRequest(request_id, system, conversation, template="single-v1-multi-turn")
    referenced = (*earlier, Turn(prompt.query, reference))
    user = _conversation("Reference Answer", "Reference answer", referenced) + "\n\n\n" + conversation
    system = MULTI_TURN_MATH_SYSTEM.replace(_SECOND, ordinal, 1)
    return JudgeRequest(request_id, system, user, template="single-math-v1-multi-turn")


def _conversation(title: str, speaker: str, turns: tuple[Turn, ...]) -> str:
    body = "\n\n".join(f"### User:\n{turn.query}\n\n### {speaker}:\n{turn.answer}" for turn in turns)
    return f"<|The Start of {title}|>\n\n{body}\n\n<|The End of {title}|>"


def _ordinal(n: int) -> str:
    words = {2: "second", 3: "third", 4: "fourth", 5: "fifth"}
    return words.get(n, f"{n}th")


# ------------------------------------------------------------------------------------------------ ratings

MIN_RATING = 1.0
MAX_RATING = 10.0

_NUMBER = r"\s*([0-9]+(?:\.[0-9]+)?)\s*"
_DOUBLE_BRACKETS = re.compile(r"\[\[" + _NUMBER + r"\]\]")
_SINGLE_BRACKETS = re.compile(r"(?<!\[)\[" + _NUMBER + r"\](?!\])")


@dataclass(frozen=True)
class ParsedRating:
    """A rating read from a judge reply: ``value`` when one was found in 1..10, else ``problem`` says why.

    ``form`` is ``"[[rating]]"`` or ``"[rating]"`` (the fallback) for a found number, ``None`` otherwise.
    """

    value: float | None
    form: str | None
    problem: str | None = None


def parse_rating(reply: str, *, accept_single_brackets: bool = True) -> ParsedRating:
    """The judge's rating: the last ``[[n]]``, else (if ``accept_single_brackets``) the last ``[n]``.

    A number outside ``[1, 10]`` is not a rating (``problem`` says so), and neither form present is no rating.
    """
    found = _last(_DOUBLE_BRACKETS, reply)
    form = "[[rating]]"
    if found is None and accept_single_brackets:
        found, form = _last(_SINGLE_BRACKETS, reply), "[rating]"
    if found is None:
        forms = '"[[rating]]" or "[rating]"' if accept_single_brackets else '"[[rating]]"'
        return ParsedRating(None, None, f"no rating in the form {forms}")
    value = float(found)
    if not (math.isfinite(value) and MIN_RATING <= value <= MAX_RATING):
        return ParsedRating(None, form, f"rating {found} is outside {MIN_RATING:g}..{MAX_RATING:g}")
    return ParsedRating(value, form)


def _last(pattern: re.Pattern[str], text: str) -> str | None:
    matches = pattern.findall(text)
    return matches[-1] if matches else None


__all__ = [
    "MAX_RATING",
    "MIN_RATING",
    "REFERENCE_CATEGORIES",
    "SYSTEM_PROMPT",
    "JudgeRequest",
    "ParsedRating",
    "build_judge_request",
    "parse_rating",
    "reference_turns",
    "uses_reference",
]
