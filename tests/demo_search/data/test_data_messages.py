"""The OpenAI / Hugging Face chat format ``{messages: [{role, content}]}``: single and multi-turn pool items and
held-out prompts, detection, and one clear line per bad record."""

from __future__ import annotations

from demo_search.data import Severity, load_heldout, load_pool
from demo_search.types import Demonstration, HeldOutPrompt, Turn


def _chat(*pairs: tuple[str, str]) -> dict:
    return {"messages": [{"role": role, "content": content} for role, content in pairs]}


def test_single_and_multi_turn_pool_items_are_detected_and_loaded(write_jsonl) -> None:
    path = write_jsonl(
        [
            _chat(("user", "Hi"), ("assistant", "Hello!")),
            _chat(("user", "Name a colour."), ("assistant", "Blue."), ("user", "Another?"), ("assistant", "Red.")),
        ]
    )
    result = load_pool(path)

    assert result.ok, result.problems
    assert result.format == "messages" and result.format_detected
    assert result.items == (
        Demonstration.single("Hi", "Hello!", source=f"{path}:1"),
        Demonstration.from_turns((Turn("Name a colour.", "Blue."), Turn("Another?", "Red.")), source=f"{path}:2"),
    )


def test_a_leading_system_message_is_ignored_with_one_grouped_warning(write_jsonl) -> None:
    record = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q"},
                           {"role": "assistant", "content": "A", "name": "bot"}], "id": "extra keys are ignored"}
    other = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q2"},
                          {"role": "assistant", "content": "A2"}]}
    path = write_jsonl([record, other])
    result = load_pool(path, "messages")

    assert [(d.query, d.answer) for d in result.items] == [("Q", "A"), ("Q2", "A2")]
    (warning,) = result.warnings
    assert warning.severity is Severity.WARNING and warning.field == "messages[0]"
    assert str(warning) == (f"{path}:1: warning: leading system message ignored (demonstrations and held-out prompts "
                            f"carry no system prompt) (also on 1 more lines: 2)")


def test_heldout_is_the_last_user_message_with_history_and_final_answer_as_reference(write_jsonl) -> None:
    path = write_jsonl(
        [
            _chat(("user", "Q1")),
            _chat(("user", "Q1"), ("assistant", "A1"), ("user", "Q2")),
            _chat(("system", "S"), ("user", "Q1"), ("assistant", "A1"), ("user", "Q2"), ("assistant", "R2")),
        ]
    )
    result = load_heldout(path)

    assert result.ok, result.problems
    assert result.items == (
        HeldOutPrompt.create("Q1", source=f"{path}:1"),
        HeldOutPrompt.create("Q2", history=(Turn("Q1", "A1"),), source=f"{path}:2"),
        HeldOutPrompt.create("Q2", reference="R2", history=(Turn("Q1", "A1"),), source=f"{path}:3"),
    )


def test_bad_records_get_one_line_naming_file_line_and_field(write_jsonl) -> None:
    path = write_jsonl(
        [
            _chat(("user", "Q"), ("assistant", "A")),
            _chat(("user", "Q"), ("tool", "{}")),
            _chat(("assistant", "A"), ("user", "Q")),
            {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": ["A"]}]},
            _chat(("user", "Q"), ("assistant", "A"), ("user", "unanswered")),
            _chat(("user", "Q"), ("system", "late"), ("assistant", "A")),
            {"messages": [{"role": "user"}]},
            {"messages": []},
        ],
        name="pool.jsonl",
    )
    result = load_pool(path)

    assert result.format == "messages"
    assert [str(problem) for problem in result.errors] == [
        f"{path}:2: field 'messages[1].role' must be one of 'system', 'user' or 'assistant', got 'tool'",
        f"{path}:3: field 'messages[0].role' must be user (turns alternate user, assistant), got 'assistant'",
        f"{path}:3: field 'messages[1].role' must be assistant (turns alternate user, assistant), got 'user'",
        f"{path}:4: field 'messages[0].content' must not be empty",
        f"{path}:4: field 'messages[1].content' must be a string, got array",
        f"{path}:5: field 'messages' must end with an assistant message (a pool item needs an answer)",
        f"{path}:6: a system message is accepted only first, got one at messages[1].role",
        f"{path}:6: field 'messages[2].role' must be user (turns alternate user, assistant), got 'assistant'",
        f"{path}:7: missing field 'messages[0].content' (messages format expects messages: [{{role, content}}, ...])",
        f"{path}:8: field 'messages' must not be empty (needs at least one entry)",
    ]
    assert [problem.field for problem in result.errors][:2] == ["messages[1].role", "messages[0].role"]
    assert [d.query for d in result.items] == ["Q"]


def test_demonstration_turns_split_one_conversation_into_several_items(write_jsonl) -> None:
    conversation = _chat(("system", "rules"), ("user", "Q1"), ("assistant", "A1"), ("user", "Q2"),
                         ("assistant", "A2"), ("user", "Q3"), ("assistant", "A3"))
    path = write_jsonl([{**conversation, "demonstration_turns": [1, 2]}])

    pool = load_pool(path)
    assert pool.ok, pool.problems
    assert [d.turns for d in pool.items] == [(Turn("Q1", "A1"),), (Turn("Q2", "A2"), Turn("Q3", "A3"))]
    assert [d.source for d in pool.items] == [f"{path}:1 (demonstration 1)", f"{path}:1 (demonstration 2)"]
    heldout = load_heldout(path)
    assert [(p.query, p.reference, p.history) for p in heldout.items] == [
        ("Q1", "A1", ()), ("Q3", "A3", (Turn("Q2", "A2"),)),
    ]


def test_demonstration_turns_must_match_the_conversation(write_jsonl) -> None:
    pair = (("user", "Q"), ("assistant", "A"))
    path = write_jsonl([
        {**_chat(*pair), "demonstration_turns": [2]},
        {**_chat(*pair), "demonstration_turns": [0, 1]},
        {**_chat(*pair, ("user", "open")), "demonstration_turns": [1]},
        {**_chat(*pair), "demonstration_turns": "1"},
    ])
    result = load_pool(path)

    assert [(p.line, p.field, p.message) for p in result.errors] == [
        (1, "demonstration_turns", "field 'demonstration_turns' adds up to 2 exchanges, but field 'messages' has 1"),
        (2, "demonstration_turns[0]", "field 'demonstration_turns[0]' must be at least 1, got 0"),
        (3, "demonstration_turns", "field 'demonstration_turns' needs field 'messages' to end with an assistant "
                                   "message"),
        (4, "demonstration_turns", "field 'demonstration_turns' must be an array, got string"),
        (None, None, "the pool is empty: no record became a pool item"),
    ]


def test_sharegpt_and_messages_keys_are_told_apart(write_jsonl) -> None:
    sharegpt = write_jsonl([{"conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]}],
                           name="sharegpt.jsonl")
    messages = write_jsonl([_chat(("user", "Q"), ("assistant", "A"))], name="messages.jsonl")

    assert load_pool(sharegpt).format == "sharegpt"
    assert load_pool(messages).format == "messages"
    assert load_pool(sharegpt).items[0].id == load_pool(messages).items[0].id
