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

``turns`` only affects ``mtbench``; ShareGPT conversations are always kept whole, single-turn formats have one
turn. URIAL prompt files (``urial``) are not JSON records; :mod:`demo_search.data.loader` reads them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Generic, Literal

from demo_search.data.problems import Severity
from demo_search.data.records import (
    AlpacaRecord,
    FieldIssue,
    MTBenchRecord,
    PromptResponseRecord,
    RecordRejected,
    ShareGPTMessage,
    ShareGPTRecord,
    json_type,
    missing_field,
    parse_record,
)
from demo_search.data.result import ItemT
from demo_search.types import Demonstration, HeldOutPrompt, Turn

TurnMode = Literal["first", "both"]
"""Which MT-Bench turns become items: ``"first"`` or ``"both"`` (every turn)."""

TURN_MODES: tuple[str, ...] = ("first", "both")


@dataclass(frozen=True)
class Mapped(Generic[ItemT]):
    """The items one record became, and warnings about what was left out of them."""

    items: tuple[ItemT, ...]
    notes: tuple[FieldIssue, ...] = ()


class RecordFormat(ABC):
    """One JSON record format.

    Contract: :meth:`demonstration` returns one pool item per record and :meth:`heldout` one or more held-out
    prompts; item ids are content hashes (``Demonstration.from_turns`` / ``HeldOutPrompt.create``) and
    ``source`` is passed through untouched. A record that cannot become an item raises
    :class:`RecordRejected` listing *every* problem found in it, each naming the field. Neither method does I/O.
    """

    name: ClassVar[str]
    expects: ClassVar[str]
    """The record's fields as shown in messages; ``?`` marks an optional field."""
    signature: ClassVar[str]
    """The key whose presence identifies this format when the format is detected automatically."""

    @abstractmethod
    def demonstration(self, record: object, source: str, turns: TurnMode) -> Mapped[Demonstration]:
        """The pool item of ``record``; it must carry an answer."""

    @abstractmethod
    def heldout(self, record: object, source: str, turns: TurnMode) -> Mapped[HeldOutPrompt]:
        """The held-out prompts of ``record``; a reference answer is optional."""

    def _missing(self, field: str, why: str = "") -> FieldIssue:
        return missing_field(field, self.name, self.expects, why)

    def _require_answer(self, record: object, field: str, value: str | None, why: str = "") -> str:
        """``value``, or a rejection saying the answer ``field`` is missing or null."""
        if value is not None:
            return value
        if isinstance(record, dict) and field in record:
            given = json_type(record[field])
            raise RecordRejected([FieldIssue(field, f"field '{field}' must be a string, got {given}")])
        raise RecordRejected([self._missing(field, why)])


class AlpacaFormat(RecordFormat):
    name = "alpaca"
    expects = "instruction, input?, output"
    signature = "instruction"

    def _parse(self, record: object) -> tuple[AlpacaRecord, str]:
        parsed = parse_record(AlpacaRecord, record, self.name, self.expects)
        extra = parsed.input if parsed.input is not None and parsed.input.strip() else None
        return parsed, parsed.instruction if extra is None else f"{parsed.instruction}\n\n{extra}"

    def demonstration(self, record: object, source: str, turns: TurnMode) -> Mapped[Demonstration]:
        parsed, query = self._parse(record)
        answer = self._require_answer(record, "output", parsed.output)
        return Mapped((Demonstration.single(query, answer, source=source),))

    def heldout(self, record: object, source: str, turns: TurnMode) -> Mapped[HeldOutPrompt]:
        parsed, query = self._parse(record)
        return Mapped((HeldOutPrompt.create(query, reference=parsed.output, source=source),))


class PromptResponseFormat(RecordFormat):
    name = "prompt_response"
    expects = "prompt, response | reference"
    signature = "prompt"

    def _parse(self, record: object) -> tuple[PromptResponseRecord, str | None]:
        parsed = parse_record(PromptResponseRecord, record, self.name, self.expects)
        if parsed.response is not None and parsed.reference is not None:
            raise RecordRejected(
                [FieldIssue("reference", "give either field 'response' or field 'reference', not both")]
            )
        return parsed, parsed.response if parsed.response is not None else parsed.reference

    def demonstration(self, record: object, source: str, turns: TurnMode) -> Mapped[Demonstration]:
        parsed, answer = self._parse(record)
        field = "reference" if isinstance(record, dict) and "reference" in record else "response"
        answer = self._require_answer(record, field, answer, "a pool item needs an answer")
        return Mapped((Demonstration.single(parsed.prompt, answer, source=source),))

    def heldout(self, record: object, source: str, turns: TurnMode) -> Mapped[HeldOutPrompt]:
        parsed, reference = self._parse(record)
        return Mapped((HeldOutPrompt.create(parsed.prompt, reference=reference, source=source),))


_USER = frozenset({"human", "user"})
_ASSISTANT = frozenset({"gpt", "assistant"})


@dataclass(frozen=True)
class _Conversation:
    """A validated ShareGPT conversation: answered ``turns``, then possibly a final unanswered user message."""

    turns: tuple[Turn, ...]
    open_query: str | None
    notes: tuple[FieldIssue, ...]


class ShareGPTFormat(RecordFormat):
    name = "sharegpt"
    expects = "conversations: [{from, value}, ...]"
    signature = "conversations"

    def _conversation(self, record: object) -> _Conversation:
        messages = parse_record(ShareGPTRecord, record, self.name, self.expects).conversations
        notes: tuple[FieldIssue, ...] = ()
        start = 0
        if messages[0].sender == "system":
            start = 1
            notes = (
                FieldIssue(
                    "conversations[0]",
                    "leading system message ignored (demonstrations and held-out prompts carry no system prompt)",
                    Severity.WARNING,
                ),
            )
        issues = [issue for index in range(start, len(messages)) if (issue := self._role_issue(messages, index, start))]
        if not issues and start == len(messages):
            issues.append(FieldIssue("conversations", "field 'conversations' has no user message after the system one"))
        if issues:
            raise RecordRejected(issues)
        users, assistants = messages[start::2], messages[start + 1 :: 2]
        turns = tuple(Turn(user.value, assistant.value) for user, assistant in zip(users, assistants))
        open_query = users[-1].value if len(users) > len(assistants) else None
        return _Conversation(turns, open_query, notes)

    @staticmethod
    def _role_issue(messages: list[ShareGPTMessage], index: int, start: int) -> FieldIssue | None:
        """Why message ``index`` breaks the user, assistant, user, ... order (``None`` when it does not)."""
        sender = messages[index].sender
        field = f"conversations[{index}].from"
        if sender == "system":
            return FieldIssue(field, f"a system message is accepted only first, got one at {field}")
        wants_user = (index - start) % 2 == 0
        allowed, names = (_USER, "human or user") if wants_user else (_ASSISTANT, "gpt or assistant")
        if sender in allowed:
            return None
        return FieldIssue(field, f"field '{field}' must be {names} (turns alternate user, assistant), got {sender!r}")

    def demonstration(self, record: object, source: str, turns: TurnMode) -> Mapped[Demonstration]:
        conversation = self._conversation(record)
        if conversation.open_query is not None:
            raise RecordRejected(
                [FieldIssue("conversations", "field 'conversations' must end with a gpt/assistant message "
                                             "(a pool item needs an answer)")]
            )
        return Mapped((Demonstration.from_turns(conversation.turns, source=source),), conversation.notes)

    def heldout(self, record: object, source: str, turns: TurnMode) -> Mapped[HeldOutPrompt]:
        conversation = self._conversation(record)
        if conversation.open_query is not None:
            query, reference, history = conversation.open_query, None, conversation.turns
        else:
            *earlier, last = conversation.turns
            query, reference, history = last.query, last.answer, tuple(earlier)
        prompt = HeldOutPrompt.create(query, reference=reference, history=history, source=source)
        return Mapped((prompt,), conversation.notes)


class MTBenchFormat(RecordFormat):
    name = "mtbench"
    expects = "turns, category?, reference?"
    signature = "turns"

    @staticmethod
    def _used(parsed: MTBenchRecord, turns: TurnMode) -> list[str]:
        return parsed.turns[:1] if turns == "first" else list(parsed.turns)

    @staticmethod
    def _references(parsed: MTBenchRecord, count: int) -> list[str | None]:
        """The references of the first ``count`` turns; ``None`` when absent or empty (MT-Bench's "none")."""
        given = parsed.reference or []
        return [given[i] if i < len(given) and given[i].strip() else None for i in range(count)]

    def demonstration(self, record: object, source: str, turns: TurnMode) -> Mapped[Demonstration]:
        parsed = parse_record(MTBenchRecord, record, self.name, self.expects)
        if parsed.reference is None:
            raise RecordRejected([self._missing("reference", "a pool item needs the reference answer")])
        used = self._used(parsed, turns)
        references = self._references(parsed, len(used))
        answers = [answer for answer in references if answer is not None]
        if len(answers) < len(used):
            raise RecordRejected(
                [
                    FieldIssue(f"reference[{index}]", f"field 'reference[{index}]' is missing or empty; a pool item "
                                                      f"needs the reference answer of every turn it uses "
                                                      f"(turns={turns!r})")
                    for index, answer in enumerate(references)
                    if answer is None
                ]
            )
        demo = Demonstration.from_turns([Turn(query, answer) for query, answer in zip(used, answers)], source=source)
        return Mapped((demo,))

    def heldout(self, record: object, source: str, turns: TurnMode) -> Mapped[HeldOutPrompt]:
        parsed = parse_record(MTBenchRecord, record, self.name, self.expects)
        used = self._used(parsed, turns)
        references = self._references(parsed, len(used))
        prompts: list[HeldOutPrompt] = []
        for index, (query, reference) in enumerate(zip(used, references)):
            prompts.append(
                HeldOutPrompt.create(
                    query,
                    reference=reference,
                    category=parsed.category,
                    source=source if index == 0 else f"{source} (turn {index + 1})",
                    follows=prompts[-1].id if prompts else None,
                )
            )
        return Mapped(tuple(prompts))


RECORD_FORMATS: Mapping[str, RecordFormat] = {
    fmt.name: fmt for fmt in (ShareGPTFormat(), MTBenchFormat(), AlpacaFormat(), PromptResponseFormat())
}
"""Every JSON record format by name, in detection order."""


def detect_format(keys: Iterable[str]) -> RecordFormat | None:
    """The first format (in :data:`RECORD_FORMATS` order) whose signature key is among ``keys``."""
    present = set(keys)
    return next((fmt for fmt in RECORD_FORMATS.values() if fmt.signature in present), None)


def describe_formats() -> str:
    """``alpaca (instruction, input?, output), ...`` for messages."""
    return ", ".join(f"{fmt.name} ({fmt.expects})" for fmt in RECORD_FORMATS.values())
