"""Each supported format maps to the right pool items and held-out prompts, and is detected from its keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demo_search.data import load_heldout, load_pool
from demo_search.types import Demonstration, HeldOutPrompt, Turn


def test_alpaca_appends_non_empty_input_after_a_blank_line(write_jsonl) -> None:
    path = write_jsonl(
        [
            {"instruction": "Translate.", "input": "Bonjour", "output": "Hello"},
            {"instruction": "Say hi.", "input": "", "output": "Hi!"},
            {"instruction": "Count.", "output": "1 2 3", "id": 7, "source": "extra keys are ignored"},
        ]
    )
    result = load_pool(path, "alpaca")

    assert result.ok, result.problems
    assert [(d.query, d.answer) for d in result.items] == [
        ("Translate.\n\nBonjour", "Hello"),
        ("Say hi.", "Hi!"),
        ("Count.", "1 2 3"),
    ]
    assert result.items[0] == Demonstration.single("Translate.\n\nBonjour", "Hello", source=f"{path}:1")
    assert result.format == "alpaca" and not result.format_detected


def test_alpaca_heldout_takes_output_as_optional_reference(write_jsonl) -> None:
    path = write_jsonl([{"instruction": "Q1", "output": "A1"}, {"instruction": "Q2"}])
    result = load_heldout(path)

    assert result.ok, result.problems
    assert [(p.query, p.reference) for p in result.items] == [("Q1", "A1"), ("Q2", None)]
    assert result.items[1] == HeldOutPrompt.create("Q2", source=f"{path}:2")


def test_sharegpt_keeps_every_exchange_as_a_turn(write_jsonl) -> None:
    path = write_jsonl(
        [
            {"conversations": [
                {"from": "human", "value": "Hi"},
                {"from": "gpt", "value": "Hello!"},
                {"from": "user", "value": "And 2+2?"},
                {"from": "assistant", "value": "4"},
            ]},
        ]
    )
    result = load_pool(path)

    assert result.ok, result.problems
    assert result.format == "sharegpt" and result.format_detected
    assert result.items[0].turns == (Turn("Hi", "Hello!"), Turn("And 2+2?", "4"))


def test_sharegpt_leading_system_message_is_ignored_with_one_grouped_warning(write_jsonl) -> None:
    conversation = [{"from": "system", "value": "Be nice."}, {"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]
    path = write_jsonl(
        [{"conversations": conversation}, {"conversations": conversation[1:]}, {"conversations": conversation}]
    )
    result = load_pool(path)

    assert result.ok
    assert [d.turns for d in result.items] == [(Turn("Q", "A"),)]
    warnings = [p for p in result.warnings if p.field == "conversations[0]"]
    assert len(warnings) == 1
    assert warnings[0].location == f"{path}:1"
    assert "leading system message ignored" in warnings[0].message and "also on 1 more lines: 3" in warnings[0].message


def test_sharegpt_rejects_misplaced_system_and_broken_alternation(write_jsonl) -> None:
    path = write_jsonl(
        [
            {"conversations": [{"from": "human", "value": "Q"}, {"from": "system", "value": "S"}]},
            {"conversations": [{"from": "gpt", "value": "A"}, {"from": "gpt", "value": "B"}]},
            {"conversations": [{"from": "human", "value": "Q"}, {"from": "human", "value": "Q2"}]},
            {"conversations": [{"from": "human", "value": "Q"}, {"from": "bot", "value": "B"}]},
        ]
    )
    result = load_pool(path)

    messages = [str(p) for p in result.errors]
    assert f"{path}:1: a system message is accepted only first, got one at conversations[1].from" in messages
    assert any(m.startswith(f"{path}:2: field 'conversations[0].from' must be human or user") for m in messages)
    assert any(m.startswith(f"{path}:3: field 'conversations[1].from' must be gpt or assistant") for m in messages)
    assert any(m.startswith(f"{path}:4: field 'conversations[1].from' must be one of") and "'bot'" in m for m in messages)
    assert messages[4:] == [f"{path}: the pool is empty: no record became a pool item"]


def test_sharegpt_pool_item_must_end_with_an_answer_but_heldout_prompt_may_not(write_jsonl) -> None:
    path = write_jsonl(
        [{"conversations": [
            {"from": "human", "value": "Q1"}, {"from": "gpt", "value": "A1"}, {"from": "human", "value": "Q2"},
        ]}]
    )
    pool = load_pool(path)
    assert [(p.location, p.field) for p in pool.errors][0] == (f"{path}:1", "conversations")
    assert "must end with a gpt/assistant message" in pool.errors[0].message

    heldout = load_heldout(path)
    assert heldout.ok
    (prompt,) = heldout.items
    assert (prompt.query, prompt.reference, prompt.history) == ("Q2", None, (Turn("Q1", "A1"),))


def test_prompt_response_takes_response_or_reference_but_not_both(write_jsonl) -> None:
    path = write_jsonl(
        [
            {"prompt": "P1", "response": "R1"},
            {"prompt": "P2", "reference": "R2"},
            {"prompt": "P3", "response": "R3", "reference": "other"},
            {"prompt": "P4"},
        ]
    )
    pool = load_pool(path)

    assert [(d.query, d.answer) for d in pool.items] == [("P1", "R1"), ("P2", "R2")]
    assert [str(p) for p in pool.errors] == [
        f"{path}:3: give either field 'response' or field 'reference', not both",
        f"{path}:4: missing field 'response' (prompt_response format expects prompt, response | reference; "
        "a pool item needs an answer)",
    ]
    heldout = load_heldout(path)
    assert [(p.query, p.reference) for p in heldout.items] == [("P1", "R1"), ("P2", "R2"), ("P4", None)]


def _mtbench_file(write_jsonl) -> Path:
    return write_jsonl(
        [
            {"question_id": 1, "category": "math", "turns": ["2+2?", "Times 3?"], "reference": ["4", "12"]},
            {"question_id": 2, "category": "writing", "turns": ["Write a haiku.", "Now in French."]},
        ],
        name="question.jsonl",
    )


def test_mtbench_first_turn_by_default(write_jsonl) -> None:
    result = load_heldout(_mtbench_file(write_jsonl))

    assert result.ok and result.format == "mtbench"
    assert [(p.query, p.reference, p.category, p.history) for p in result.items] == [
        ("2+2?", "4", "math", ()),
        ("Write a haiku.", None, "writing", ()),
    ]


def test_mtbench_both_turns_makes_every_turn_a_prompt_that_follows_the_one_before(write_jsonl) -> None:
    path = _mtbench_file(write_jsonl)
    result = load_heldout(path, turns="both")

    assert result.ok and not result.problems
    first, second, haiku, french = result.items
    assert [(p.query, p.reference, p.category, p.history) for p in result.items] == [
        ("2+2?", "4", "math", ()),
        ("Times 3?", "12", "math", ()),
        ("Write a haiku.", None, "writing", ()),
        ("Now in French.", None, "writing", ()),
    ]
    assert [p.follows for p in result.items] == [None, first.id, None, haiku.id]
    assert (second.source, french.source) == (f"{path}:1 (turn 2)", f"{path}:2 (turn 2)")
    # the turn-2 id depends on the turn it follows: the same follow-up after another question is another prompt
    assert french.id != HeldOutPrompt.create("Now in French.", category="writing").id
    assert HeldOutPrompt.from_payload(french.to_payload()) == french


def test_mtbench_as_pool_needs_the_reference_of_every_used_turn(write_jsonl) -> None:
    path = _mtbench_file(write_jsonl)

    both = load_pool(path, turns="both")
    assert [d.turns for d in both.items] == [(Turn("2+2?", "4"), Turn("Times 3?", "12"))]
    assert [(p.location, p.field) for p in both.errors] == [(f"{path}:2", "reference")]
    assert "missing field 'reference'" in both.errors[0].message


def test_json_array_gives_the_same_items_as_jsonl_with_element_lines(tmp_path: Path, write_jsonl) -> None:
    records = [{"instruction": "Q1", "output": "A1"}, {"instruction": "Q2", "output": "A2"}]
    array = tmp_path / "pool.json"
    array.write_text("  [\n" + ",\n".join(json.dumps(r, indent=2) for r in records) + "\n]\n", encoding="utf-8")
    from_array = load_pool(array)
    from_lines = load_pool(write_jsonl(records))

    assert from_array.ok and from_array.format == "alpaca"
    assert [d.id for d in from_array.items] == [d.id for d in from_lines.items]
    assert [d.source for d in from_array.items] == [f"{array}:2", f"{array}:6"]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"instruction": "Q", "output": "A"}, "alpaca"),
        ({"conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]}, "sharegpt"),
        ({"prompt": "Q", "response": "A"}, "prompt_response"),
        ({"question_id": 1, "turns": ["Q"], "reference": ["A"]}, "mtbench"),
    ],
)
def test_auto_detects_the_format_from_the_first_record_and_reports_it(write_jsonl, record, expected) -> None:
    result = load_pool(write_jsonl(["", "{broken", record]))

    assert (result.format, result.format_detected, len(result.items)) == (expected, True, 1)
    assert [p.line for p in result.errors] == [2]


def test_ids_depend_on_content_not_position(write_jsonl) -> None:
    records = [{"prompt": f"P{i}", "response": f"R{i}"} for i in range(4)]
    forward = load_pool(write_jsonl(records, name="a.jsonl"))
    backward = load_pool(write_jsonl(records[::-1], name="b.jsonl"))

    assert len({d.id for d in forward.items}) == 4
    assert {d.id: d.query for d in forward.items} == {d.id: d.query for d in backward.items}


def test_urial_file_as_pool_and_as_heldout(tmp_path: Path) -> None:
    path = tmp_path / "prompt.txt"
    path.write_text(
        "# Rules\n\nBe helpful.\n\n"
        "# Query:\n```\nQ1\n```\n\n# Answer:\n```\nA1 with ```python\nx = 1\n``` inside\n```\n\n"
        "# Query:\n```\nQ2\n```\n\n# Answer:\n```\nA2\n```\n",
        encoding="utf-8",
    )
    pool = load_pool(path)
    assert pool.ok and (pool.format, pool.format_detected) == ("urial", True)
    assert [(d.query, d.answer, d.source) for d in pool.items] == [
        ("Q1", "A1 with ```python\nx = 1\n``` inside", f"{path}:5"),
        ("Q2", "A2", f"{path}:17"),
    ]

    heldout = load_heldout(path, "urial")
    assert [(p.query, p.reference) for p in heldout.items] == [("Q1", pool.items[0].answer), ("Q2", "A2")]


def test_byte_order_mark_and_crlf_line_endings_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "pool.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"instruction": "Q", "output": "A"}\r\n{"instruction": "Q2", "output": "A2"}\r\n')
    result = load_pool(path)

    assert result.ok, result.problems
    assert [(d.query, d.answer) for d in result.items] == [("Q", "A"), ("Q2", "A2")]
