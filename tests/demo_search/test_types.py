"""The value types' payloads: the JSON the store keeps, written and read back by the types themselves."""

from __future__ import annotations

import dataclasses
import json

import pytest

from demo_search.types import Demonstration, HeldOutPrompt, Turn


def canonical(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


DEMOS = [
    Demonstration.single("Spell it backwards: abc", "cba", source="pool.jsonl:3"),
    Demonstration.from_turns([Turn("q1", "a1"), Turn("q2 — ü", "a2\n")]),
]
PROMPTS = [
    HeldOutPrompt.create("Upper-case: abc", reference="ABC", category="writing", source="held.jsonl:1"),
    HeldOutPrompt.create("second turn", history=[Turn("first", "answer")]),
    HeldOutPrompt.create("Now in French.", category="writing", source="q.jsonl:2 (turn 2)", follows="0123456789abcdef"),
]


@pytest.mark.parametrize("value", [*DEMOS, *PROMPTS], ids=lambda v: type(v).__name__)
def test_a_payload_is_the_json_the_store_has_always_kept(value: Demonstration | HeldOutPrompt) -> None:
    # Stored rows written before the payload methods existed were ``dataclasses.asdict``: same keys, same order;
    # ``follows`` (added later, for MT-Bench's later turns) is written only when set, so older rows stay as they were.
    expected = dataclasses.asdict(value)
    if isinstance(value, HeldOutPrompt) and value.follows is None:
        del expected["follows"]
    assert canonical(value.to_payload()) == canonical(expected)


@pytest.mark.parametrize("value", [*DEMOS, *PROMPTS], ids=lambda v: type(v).__name__)
def test_a_payload_reads_back_to_the_same_value(value: Demonstration | HeldOutPrompt) -> None:
    payload = json.loads(json.dumps(value.to_payload()))  # through JSON, as the store returns it
    assert type(value).from_payload(payload) == value


def test_optional_keys_may_be_left_out() -> None:
    demo = Demonstration.from_payload({"id": "d1", "turns": [{"query": "q", "answer": "a"}]})
    assert demo == Demonstration(id="d1", turns=(Turn("q", "a"),), source="")
    prompt = HeldOutPrompt.from_payload({"id": "p1", "query": "q"})
    assert prompt == HeldOutPrompt(id="p1", query="q")


def test_a_payload_without_turns_is_refused() -> None:
    with pytest.raises(ValueError, match="has no turns"):
        Demonstration.from_payload({"id": "d1", "turns": []})
