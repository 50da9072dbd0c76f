"""``demo-search export --format messages``: the best set as OpenAI / Hugging Face chat messages (the rules as the
system message, each demonstration as user/assistant turns, in prompt order), which load back as a pool or
held-out file in the ``messages`` format to the same demonstrations.

Searches are written straight into a store (``tests/demo_search/cli/stored.py``): no Ray.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from db import Store
from demo_search.data import load_heldout, load_pool
from demo_search.exports import ExportDocument, build_export, export_to_messages
from demo_search.exports.model import ExportDemonstration, TurnPayload
from demo_search.types import Demonstration, Turn
from tests.demo_search.cli.stored import RULES, write_stored_search
from tests.support import harness

pytestmark = pytest.mark.hand_written_searches  # stored.py writes its search row by row, not through the driver


def _document(root: Path, template: str = "urial") -> ExportDocument:
    search = write_stored_search(root, name="stored", template=template)
    with Store.open(search.url, create=False) as store:
        return build_export(store, "stored")


@pytest.mark.parametrize("template", ["urial", "chat"])
def test_export_writes_the_rules_and_demonstrations_as_chat_messages(tmp_path: Path, template: str) -> None:
    search = write_stored_search(tmp_path / "search", name="stored", template=template)
    output = tmp_path / "best.messages.jsonl"

    result = harness.invoke("export", "stored", "--format", "messages", "-o", str(output), "--db", search.url)

    assert result.exit_code == 0, result.output
    assert f"exported search stored (messages) to {output}" in result.output
    text = output.read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.count("\n") == 1  # one JSON object, one line: also a JSON Lines file
    exported = json.loads(text)
    with Store.open(search.url, create=False) as store:
        document = build_export(store, "stored")
    demos = document.demonstrations_in_prompt_order()
    assert len(demos) == 3  # the fixed demonstration and the two chosen ones
    assert exported == {
        "messages": [{"role": "system", "content": RULES}] + [
            message for demo in demos
            for message in ({"role": "user", "content": demo.query}, {"role": "assistant", "content": demo.answer})
        ],
        "demonstration_turns": [1, 1, 1],
    }
    if template == "chat":  # the very messages a chat-template search rendered
        assert exported["messages"] == document.to_payload()["prompt"]["messages"]


def test_a_messages_export_loads_back_to_the_same_demonstrations(tmp_path: Path) -> None:
    search = write_stored_search(tmp_path / "search", name="stored")
    output = tmp_path / "best.jsonl"
    assert harness.invoke("export", "stored", "-f", "messages", "-o", str(output), "--db", search.url).exit_code == 0
    with Store.open(search.url, create=False) as store:
        demos = build_export(store, "stored").demonstrations_in_prompt_order()

    pool = load_pool(output)

    assert pool.ok, pool.problems
    assert pool.format == "messages" and pool.format_detected
    assert [(d.id, d.turns) for d in pool.items] == [(d.id, d.turns) for d in demos]
    assert [w.field for w in pool.warnings] == ["messages[0]"]  # the rules: a pool item has no system prompt


def test_multi_turn_demonstrations_round_trip_through_pool_and_heldout(tmp_path: Path) -> None:
    document = _document(tmp_path / "search")
    two_turns = Demonstration.from_turns((Turn("Plan a trip.", "Where to?"), Turn("Rome.", "Day 1: the Forum.")))
    one_turn = Demonstration.single("2+2?", "4")
    demos = [two_turns, one_turn, Demonstration.from_turns(two_turns.turns[::-1])]
    document = document.model_copy(update={
        "demonstrations": [
            ExportDemonstration(id=d.id, role="selected", step=index + 1,
                                turns=[TurnPayload(query=t.query, answer=t.answer) for t in d.turns])
            for index, d in enumerate(demos)
        ],
    })
    path = tmp_path / "best.jsonl"
    path.write_text(export_to_messages(document), encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8"))["demonstration_turns"] == [2, 1, 2]

    pool = load_pool(path, "messages")
    assert pool.ok, pool.problems
    assert [(d.id, d.turns) for d in pool.items] == [(d.id, d.turns) for d in demos]
    assert [d.source for d in pool.items] == [f"{path}:1 (demonstration {i})" for i in (1, 2, 3)]

    heldout = load_heldout(path)
    assert [(p.history, p.query, p.reference) for p in heldout.items] == [
        (d.turns[:-1], d.turns[-1].query, d.turns[-1].answer) for d in demos
    ]


def test_without_rules_there_is_no_system_message_and_nothing_to_warn_about(tmp_path: Path) -> None:
    document = _document(tmp_path / "search")
    document = document.model_copy(update={"template": document.template.model_copy(update={"rules": ""})})
    path = tmp_path / "best.jsonl"
    path.write_text(export_to_messages(document), encoding="utf-8")

    messages = json.loads(path.read_text(encoding="utf-8"))["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
    pool = load_pool(path)
    assert pool.problems == ()
    assert [d.id for d in pool.items] == [d.id for d in document.demonstrations_in_prompt_order()]
