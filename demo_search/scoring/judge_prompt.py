"""MT-Bench single-answer grading prompts, and reading the ``[[rating]]`` out of a judge's reply.

The texts are those of MT-Bench (FastChat ``llm_judge/data/judge_prompts.jsonl``):

* ``single-v1``: a prompt without reference answer;
* ``single-math-v1``: the reference-guided variant, used when the held-out prompt has a reference answer
  (and reference use is on);
* ``single-v1-multi-turn`` / ``single-math-v1-multi-turn``: used when the held-out prompt has earlier turns.
  MT-Bench's versions have exactly two turns; here the layout is extended to any number of earlier turns
  (each earlier turn is shown with the answer stored in the prompt's history, the last one with the answer
  being judged), and the instruction still asks about the answer to the last question.

Rating format (:func:`parse_rating`): the rating is the *last* ``[[n]]`` in the reply (``n`` an integer or a
decimal); if the reply has none, the last ``[n]`` is taken, as MT-Bench's fallback does. MT-Bench takes the
first match; the last is taken here because the rating is asked for *after* the explanation, and an
explanation may quote the format (``"[[rating]]"``, ``[[5]]``) before giving its own rating. A rating outside
1..10, or a reply with neither form, is no rating.
"""

from __future__ import annotations

import math
import re
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


def build_judge_request(
    request_id: str, prompt: HeldOutPrompt, answer: str, *, use_reference: bool = True
) -> JudgeRequest:
    """The MT-Bench grading request for ``answer`` to ``prompt``.

    The reference-guided template is used when ``use_reference`` and the prompt has a reference answer; the
    multi-turn layout when the prompt has earlier turns (``prompt.history``).
    """
    reference = prompt.reference if use_reference else None
    if not prompt.history:
        if reference is None:
            return JudgeRequest(request_id, SYSTEM_PROMPT, SINGLE_V1.format(question=prompt.query, answer=answer))
        user = SINGLE_MATH_V1.format(question=prompt.query, reference=reference, answer=answer)
        return JudgeRequest(request_id, SYSTEM_PROMPT, user, template="single-math-v1")
    turns = (*prompt.history, Turn(prompt.query, answer))
    ordinal = _ordinal(len(turns))
    conversation = _conversation("Assistant A's Conversation with User", "Assistant A", turns)
    if reference is None:
        system = MULTI_TURN_SYSTEM.replace(_SECOND, ordinal, 1)
        return JudgeRequest(request_id, system, conversation, template="single-v1-multi-turn")
    reference_turns = (*prompt.history, Turn(prompt.query, reference))
    user = _conversation("Reference Answer", "Reference answer", reference_turns) + "\n\n\n" + conversation
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
    "SYSTEM_PROMPT",
    "JudgeRequest",
    "ParsedRating",
    "build_judge_request",
    "parse_rating",
]
