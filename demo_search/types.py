"""Value types shared across ``demo_search``: demonstrations, held-out prompts and their content ids.

Every value is a frozen dataclass; ids are content hashes (:func:`content_id`), so the same text gets the
same id in every run, on every machine, and in the store. Each value writes itself as a JSON-ready payload
(``to_payload``, the form the store keeps) and reads itself back (``from_payload``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CONTENT_ID_LENGTH = 16


def content_id(*parts: object) -> str:
    """A stable id for JSON-serialisable ``parts``: the first 16 hex digits of the SHA-256 of their canonical JSON.

    Canonical JSON means sorted keys, no whitespace, UTF-8 without escaping non-ASCII; tuples hash like lists.
    """
    canonical = json.dumps(list(parts), ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:CONTENT_ID_LENGTH]


@dataclass(frozen=True)
class Turn:
    """One exchange: a user query and the assistant's answer."""

    query: str
    answer: str

    def to_payload(self) -> dict[str, str]:
        """``{"query": ..., "answer": ...}``."""
        return {"query": self.query, "answer": self.answer}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Turn:
        return cls(query=payload["query"], answer=payload["answer"])


def _turns_payload(turns: tuple[Turn, ...]) -> list[dict[str, str]]:
    return [turn.to_payload() for turn in turns]


def _turns_from_payload(payloads: Any) -> tuple[Turn, ...]:
    return tuple(Turn.from_payload(payload) for payload in payloads)


def _turns_content(turns: tuple[Turn, ...]) -> list[list[str]]:
    return [[turn.query, turn.answer] for turn in turns]


@dataclass(frozen=True)
class Demonstration:
    """A pool item or a fixed demonstration: one or more turns, identified by a hash of their text.

    ``source`` says where it came from (``"file:line"``, or ``"file#index"`` for items of a JSON array); it is
    not part of the id, so the same demonstration read from two files has one id.
    """

    id: str
    turns: tuple[Turn, ...]
    source: str = ""

    def __post_init__(self) -> None:
        if not self.turns:
            raise ValueError(f"demonstration {self.id!r} ({self.source or 'no source'}) has no turns")
        if not self.id:
            raise ValueError(f"demonstration from {self.source or 'no source'} has an empty id")

    @classmethod
    def from_turns(cls, turns: tuple[Turn, ...] | list[Turn], source: str = "") -> Demonstration:
        """A demonstration whose id is the content id of its turns."""
        turns = tuple(turns)
        return cls(id=content_id("demonstration", _turns_content(turns)), turns=turns, source=source)

    @classmethod
    def single(cls, query: str, answer: str, source: str = "") -> Demonstration:
        """A one-turn demonstration whose id is the content id of its query and answer."""
        return cls.from_turns((Turn(query=query, answer=answer),), source=source)

    def to_payload(self) -> dict[str, Any]:
        """``{"id", "turns": [{"query", "answer"}, ...], "source"}``: the form the store keeps."""
        return {"id": self.id, "turns": _turns_payload(self.turns), "source": self.source}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Demonstration:
        """The demonstration of a payload written by :meth:`to_payload` (``source`` may be left out)."""
        return cls(id=payload["id"], turns=_turns_from_payload(payload["turns"]), source=payload.get("source", ""))

    @property
    def query(self) -> str:
        """The query of the first turn."""
        return self.turns[0].query

    @property
    def answer(self) -> str:
        """The answer of the first turn."""
        return self.turns[0].answer


@dataclass(frozen=True)
class HeldOutPrompt:
    """A prompt the candidate demonstration sets are judged on.

    ``history`` holds earlier turns of a multi-turn prompt (rendered before ``query``); ``reference`` is the
    reference answer, needed by likelihood scoring and by reference-based judges; ``category`` is the data
    file's category (MT-Bench's ``writing``, ``math``, ...), which chooses the judge's template.

    ``follows`` is the id of the held-out prompt this one continues (MT-Bench's turn 2 follows its turn 1): the
    earlier turns are then not fixed text but what the model answered, so such a prompt is stored with an
    empty ``history``, and the search fills it, for each candidate set, with the followed prompt's history and
    query and the answer generated to it (see ``demo_search.search.turns``).
    """

    id: str
    query: str
    reference: str | None = None
    history: tuple[Turn, ...] = ()
    category: str | None = None
    source: str = ""
    follows: str | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError(f"held-out prompt from {self.source or 'no source'} has an empty id")

    @classmethod
    def create(
        cls,
        query: str,
        reference: str | None = None,
        history: tuple[Turn, ...] | list[Turn] = (),
        category: str | None = None,
        source: str = "",
        follows: str | None = None,
    ) -> HeldOutPrompt:
        """A held-out prompt whose id is the content id of its history, query and reference (and of the prompt it
        follows, when it follows one)."""
        history = tuple(history)
        parts: tuple[object, ...] = ("held_out", _turns_content(history), query, reference)
        return cls(
            id=content_id(*parts) if follows is None else content_id(*parts, {"follows": follows}),
            query=query,
            reference=reference,
            history=history,
            category=category,
            source=source,
            follows=follows,
        )

    def to_payload(self) -> dict[str, Any]:
        """``{"id", "query", "reference", "history", "category", "source"}`` (and ``"follows"`` when it follows a
        prompt): the form the store keeps."""
        payload = {
            "id": self.id,
            "query": self.query,
            "reference": self.reference,
            "history": _turns_payload(self.history),
            "category": self.category,
            "source": self.source,
        }
        return payload if self.follows is None else {**payload, "follows": self.follows}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> HeldOutPrompt:
        """The prompt of a payload written by :meth:`to_payload` (every key but ``id`` and ``query`` may be left
        out)."""
        return cls(
            id=payload["id"],
            query=payload["query"],
            reference=payload.get("reference"),
            history=_turns_from_payload(payload.get("history", ())),
            category=payload.get("category"),
            source=payload.get("source", ""),
            follows=payload.get("follows"),
        )


__all__ = ["CONTENT_ID_LENGTH", "Demonstration", "HeldOutPrompt", "Turn", "content_id"]
