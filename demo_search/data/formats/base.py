"""What every JSON record format shares: the contract of :class:`RecordFormat` and what one record maps to."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Generic, Literal

from demo_search.data.records import FieldIssue, RecordRejected, json_type, missing_field
from demo_search.data.result import ItemT
from demo_search.types import Demonstration, HeldOutPrompt

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

    Contract: :meth:`demonstration` returns the pool items of a record (one, unless the format says otherwise) and
    :meth:`heldout` one or more held-out prompts; item ids are content hashes (``Demonstration.from_turns`` /
    ``HeldOutPrompt.create``) and ``source`` is passed through untouched (or suffixed when a record gives several
    items). A record that cannot become an item raises :class:`RecordRejected` listing *every* problem found in
    it, each naming the field. Neither method does I/O.
    """

    name: ClassVar[str]
    expects: ClassVar[str]
    """The record's fields as shown in messages; ``?`` marks an optional field."""
    signature: ClassVar[str]
    """The key whose presence identifies this format when the format is detected automatically."""

    @abstractmethod
    def demonstration(self, record: object, source: str, turns: TurnMode) -> Mapped[Demonstration]:
        """The pool item(s) of ``record``; each must carry an answer."""

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
