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
    ``"both"`` makes one prompt per turn, and turn *n* carries turns 1..n-1 as history, *each with its reference
    answer*: a follow-up ("Rewrite your previous response...") is meaningless without the answer it refers to,
    and the reference is the only answer the file holds. A question whose earlier turns lack a reference gets
    its first-turn prompt only, and a warning says which later turns were skipped. In MT-Bench an empty string
    in ``reference`` means "no reference for this turn". As a pool, every used turn needs its reference answer.

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


class ShareGPTFormat(RecordFormat):
    name = "sharegpt"
    expects = "conversations: [{from, value}, ...]"
    signature = "conversations"

    def _exchanges(self, record: object) -> tuple[list[tuple[str, str | None]], tuple[FieldIssue, ...]]:
        """``(query, answer or None)`` pairs in order; only the last may lack its answer."""
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
        issues: list[FieldIssue] = []
        exchanges: list[tuple[str, str | None]] = []
        for index in range(start, len(messages)):
            sender, value = messages[index].sender, messages[index].value
            field = f"conversations[{index}].from"
            wants_user = (index - start) % 2 == 0
            if sender == "system":
                issues.append(FieldIssue(field, f"a system message is accepted only first, got one at {field}"))
            elif wants_user and sender not in _USER:
                issues.append(FieldIssue(field, f"field '{field}' must be human or user (turns alternate "
                                                f"user, assistant), got {sender!r}"))
            elif not wants_user and sender not in _ASSISTANT:
                issues.append(FieldIssue(field, f"field '{field}' must be gpt or assistant (turns alternate "
                                                f"user, assistant), got {sender!r}"))
            elif issues:
                continue  # the record is rejected; keep checking the roles of the other messages
            elif wants_user:
                exchanges.append((value, None))
            else:
                exchanges[-1] = (exchanges[-1][0], value)
        if not issues and not exchanges:
            issues.append(FieldIssue("conversations", "field 'conversations' has no user message after the system one"))
        if issues:
            raise RecordRejected(issues)
        return exchanges, notes

    def demonstration(self, record: object, source: str, turns: TurnMode) -> Mapped[Demonstration]:
        exchanges, notes = self._exchanges(record)
        if exchanges[-1][1] is None:
            raise RecordRejected(
                [FieldIssue("conversations", "field 'conversations' must end with a gpt/assistant message "
                                             "(a pool item needs an answer)")]
            )
        demo = Demonstration.from_turns([Turn(query, answer) for query, answer in exchanges], source=source)  # type: ignore[arg-type]
        return Mapped((demo,), notes)

    def heldout(self, record: object, source: str, turns: TurnMode) -> Mapped[HeldOutPrompt]:
        exchanges, notes = self._exchanges(record)
        *history, (query, reference) = exchanges
        prompt = HeldOutPrompt.create(
            query, reference=reference, history=[Turn(q, a) for q, a in history], source=source  # type: ignore[arg-type]
        )
        return Mapped((prompt,), notes)


class MTBenchFormat(RecordFormat):
    name = "mtbench"
    expects = "turns, category?, reference?"
    signature = "turns"

    @staticmethod
    def _used(parsed: MTBenchRecord, turns: TurnMode) -> list[str]:
        return parsed.turns[:1] if turns == "first" else list(parsed.turns)

    @staticmethod
    def _reference(parsed: MTBenchRecord, index: int) -> str | None:
        """The reference of turn ``index``; ``None`` when absent or empty (MT-Bench's "no reference")."""
        references = parsed.reference or []
        return references[index] if index < len(references) and references[index].strip() else None

    def demonstration(self, record: object, source: str, turns: TurnMode) -> Mapped[Demonstration]:
        parsed = parse_record(MTBenchRecord, record, self.name, self.expects)
        if parsed.reference is None:
            raise RecordRejected([self._missing("reference", "a pool item needs the reference answer")])
        issues = [
            FieldIssue(f"reference[{index}]", f"field 'reference[{index}]' is missing or empty; a pool item needs "
                                              f"the reference answer of every turn it uses (turns={turns!r})")
            for index in range(len(self._used(parsed, turns)))
            if self._reference(parsed, index) is None
        ]
        if issues:
            raise RecordRejected(issues)
        demo = Demonstration.from_turns(
            [Turn(query, self._reference(parsed, i)) for i, query in enumerate(self._used(parsed, turns))],  # type: ignore[arg-type]
            source=source,
        )
        return Mapped((demo,))

    def heldout(self, record: object, source: str, turns: TurnMode) -> Mapped[HeldOutPrompt]:
        parsed = parse_record(MTBenchRecord, record, self.name, self.expects)
        prompts: list[HeldOutPrompt] = []
        history: list[Turn] = []
        notes: list[FieldIssue] = []
        used = self._used(parsed, turns)
        for index, query in enumerate(used):
            prompts.append(
                HeldOutPrompt.create(
                    query,
                    reference=self._reference(parsed, index),
                    history=history,
                    category=parsed.category,
                    source=source if index == 0 else f"{source} (turn {index + 1})",
                )
            )
            answer = self._reference(parsed, index)
            if answer is None and index + 1 < len(used):
                notes.append(
                    FieldIssue(
                        f"turns[{index + 1}]",
                        f"{_turn_range(index + 2, len(used))} skipped: the history needs the reference answer "
                        f"of turn {index + 1}, and field 'reference[{index}]' is missing or empty",
                        Severity.WARNING,
                    )
                )
                break
            history.append(Turn(query, answer))  # type: ignore[arg-type]
        return Mapped(tuple(prompts), tuple(notes))


def _turn_range(first: int, last: int) -> str:
    return f"turn {first}" if first == last else f"turns {first}-{last}"


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
