"""Mapping JSON records of each common dataset format to pool demonstrations and held-out prompts.

Formats (the ``format`` argument of the loaders):

``alpaca``
    ``{instruction, input?, output}`` (Alpaca, OpenHermes). A non-blank ``input`` is appended to the
    instruction after a blank line. ``output`` is the answer (pool) or the reference (held-out, optional).
``sharegpt``
    ``{conversations: [{from, value}, ...]}`` with ``from`` in human/user, gpt/assistant, system. Turns must
    alternate user, assistant, starting with the user. A *leading* system message is ignored and reported as a
    warning: a demonstration or held-out prompt has no place for a system prompt, and rejecting such records
    would refuse most real ShareGPT dumps. A system message anywhere else is an error. A pool item keeps every
    exchange as a turn and must end with an assistant answer. A held-out prompt is the *last* user message, with
    the exchanges before it as history; a final assistant message, if present, is its reference.
``messages``
    The OpenAI / Hugging Face chat format ``{messages: [{role, content}, ...]}`` with ``role`` in system, user,
    assistant and ``content`` a string; the same rules as ``sharegpt``. An optional ``demonstration_turns``
    (written by ``export --format messages``) splits the conversation into several demonstrations
    (:mod:`demo_search.data.formats.conversation`).
``prompt_response``
    ``{prompt, response | reference}``; giving both is an error (which one is the answer would be a guess).
``mtbench``
    MT-Bench ``question.jsonl``: ``{question_id, category, turns: [...], reference?: [...]}``. ``turns`` picks
    what is used: ``"first"`` (default) the first turn only; ``"both"`` every turn. For held-out prompts,
    ``"both"`` makes one prompt per turn, and turn *n* ``follows`` turn *n*-1: as in MT-Bench (FastChat), a
    follow-up ("Rewrite your previous response...") is asked after the answer the model itself gave to the
    earlier turn, which the search generates first; so every turn of every question is a prompt, with or
    without a reference. The question's ``category`` is kept on every prompt (it chooses the judge's
    template). In MT-Bench an empty string in ``reference`` means "no reference for this turn". As a pool,
    every used turn needs its reference answer.

``turns`` only affects ``mtbench``; conversations are always kept whole, single-turn formats have one
turn. URIAL prompt files (``urial``) are not JSON records; :mod:`demo_search.data.loader` reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from demo_search.data.formats.base import TURN_MODES, Mapped, RecordFormat, TurnMode
from demo_search.data.formats.conversation import MessagesFormat, ShareGPTFormat
from demo_search.data.formats.mtbench import MTBenchFormat
from demo_search.data.formats.single import AlpacaFormat, PromptResponseFormat

RECORD_FORMATS: Mapping[str, RecordFormat] = {
    fmt.name: fmt
    for fmt in (ShareGPTFormat(), MessagesFormat(), MTBenchFormat(), AlpacaFormat(), PromptResponseFormat())
}
"""Every JSON record format by name, in detection order."""


def detect_format(keys: Iterable[str]) -> RecordFormat | None:
    """The first format (in :data:`RECORD_FORMATS` order) whose signature key is among ``keys``."""
    present = set(keys)
    return next((fmt for fmt in RECORD_FORMATS.values() if fmt.signature in present), None)


def describe_formats() -> str:
    """``alpaca (instruction, input?, output), ...`` for messages."""
    return ", ".join(f"{fmt.name} ({fmt.expects})" for fmt in RECORD_FORMATS.values())


__all__ = [
    "RECORD_FORMATS",
    "TURN_MODES",
    "AlpacaFormat",
    "MTBenchFormat",
    "Mapped",
    "MessagesFormat",
    "PromptResponseFormat",
    "RecordFormat",
    "ShareGPTFormat",
    "TurnMode",
    "describe_formats",
    "detect_format",
]
