"""Every kind of bad input is reported with its file:line and field, and loading goes on to report the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demo_search.data import Severity, load_heldout, load_pool
from demo_search.errors import ConfigError, DataError


def _words(text: str) -> int:
    return len(text.split())


def test_missing_field_names_file_line_field_and_expected_fields(write_jsonl) -> None:
    path = write_jsonl(
        [
            {"instruction": "Q1", "output": "A1"},
            {"instruction": "Q2", "output": "A2"},
            {"instruction": "Q3", "input": "x"},
        ],
        name="pool.jsonl",
    )
    result = load_pool(path, "alpaca")

    (error,) = result.errors
    assert str(error) == f"{path}:3: missing field 'output' (alpaca format expects instruction, input?, output)"
    assert (error.location, error.field) == (f"{path}:3", "output")
    assert len(result.items) == 2


def test_wrong_field_types_are_reported_not_coerced(write_jsonl) -> None:
    path = write_jsonl(
        [
            {"instruction": 42, "output": "A"},
            {"instruction": "Q", "output": ["A"]},
            {"conversations": "not a list"},
            {"conversations": [{"from": "human", "value": 7}]},
        ]
    )
    alpaca = load_pool(path, "alpaca")
    assert [(p.location, p.field, p.message) for p in alpaca.errors[:2]] == [
        (f"{path}:1", "instruction", "field 'instruction' must be a string, got number"),
        (f"{path}:2", "output", "field 'output' must be a string, got array"),
    ]
    sharegpt = load_pool(path, "sharegpt")
    assert (f"{path}:3", "conversations", "field 'conversations' must be an array, got string") in [
        (p.location, p.field, p.message) for p in sharegpt.errors
    ]
    assert (f"{path}:4", "conversations[0].value", "field 'conversations[0].value' must be a string, got number") in [
        (p.location, p.field, p.message) for p in sharegpt.errors
    ]


def test_null_answer_is_a_type_error_for_a_pool_item(write_jsonl) -> None:
    path = write_jsonl([{"instruction": "Q", "output": None}, {"prompt": "P", "reference": None}])

    alpaca = load_pool(path, "alpaca")
    assert (alpaca.errors[0].location, alpaca.errors[0].message) == (
        f"{path}:1", "field 'output' must be a string, got null",
    )
    prompt_response = load_pool(path, "prompt_response")
    assert (prompt_response.errors[1].location, prompt_response.errors[1].message) == (
        f"{path}:2", "field 'reference' must be a string, got null",
    )


@pytest.mark.parametrize("blank", ["", "   \n\t"])
def test_empty_or_blank_string_fields_are_errors(write_jsonl, blank: str) -> None:
    path = write_jsonl([{"instruction": "Q", "output": blank}, {"instruction": blank, "output": "A"}])
    result = load_pool(path)

    assert [(p.location, p.field, p.message) for p in result.errors[:2]] == [
        (f"{path}:1", "output", "field 'output' must not be empty"),
        (f"{path}:2", "instruction", "field 'instruction' must not be empty"),
    ]


def test_empty_conversation_list_is_an_error(write_jsonl) -> None:
    path = write_jsonl([{"conversations": []}])
    (error, empty) = load_pool(path).errors

    assert (error.location, error.field) == (f"{path}:1", "conversations")
    assert "must not be empty" in error.message
    assert "the pool is empty" in empty.message


def test_every_bad_record_is_reported_not_just_the_first(write_jsonl) -> None:
    path = write_jsonl(
        [
            {"instruction": "Q1", "output": "A1"},
            "{not json",
            {"instruction": "Q3"},
            {"output": "A4", "instruction": 4},
            ["an", "array"],
            {"instruction": "Q6", "output": "A6"},
        ]
    )
    result = load_pool(path)

    assert [(p.line, p.field) for p in result.errors] == [(2, None), (3, "output"), (4, "instruction"), (5, None)]
    assert result.errors[3].message == "expected a JSON object, got array"
    assert [d.query for d in result.items] == ["Q1", "Q6"]


def test_broken_json_line_names_file_line_and_column(write_jsonl) -> None:
    path = write_jsonl([{"prompt": "P", "response": "R"}, '{"prompt": "P2", "response": }'])
    (error,) = load_pool(path).errors

    assert error.location == f"{path}:2"
    assert error.message.startswith("broken JSON at column 30: ")


def test_broken_json_array_names_the_line_of_the_error(tmp_path: Path) -> None:
    path = tmp_path / "pool.json"
    broken_line = '  {"prompt": "P2", "response" "R2"}'
    path.write_text('[\n  {"prompt": "P", "response": "R"},\n' + broken_line + "\n]\n")
    result = load_pool(path)

    column = broken_line.index('"R2"') + 1
    assert [str(p) for p in result.errors][0] == f"{path}:3: broken JSON at column {column}: Expecting ':' delimiter"
    assert [d.query for d in result.items] == ["P"]


def test_json_array_without_comma_or_with_trailing_text_is_broken(tmp_path: Path) -> None:
    missing_comma = tmp_path / "a.json"
    missing_comma.write_text('[{"prompt": "P", "response": "R"}\n {"prompt": "Q", "response": "S"}]')
    trailing = tmp_path / "b.json"
    trailing.write_text('[{"prompt": "P", "response": "R"}]\n]')

    assert str(load_pool(missing_comma).errors[0]) == (
        f"{missing_comma}:2: broken JSON at column 2: expected ',' or ']' after an array element"
    )
    assert str(load_pool(trailing).errors[0]) == (
        f"{trailing}:2: broken JSON at column 1: unexpected content after the closing ']' of the array"
    )


def test_invalid_utf8_names_line_and_byte_offset_and_other_lines_still_load(tmp_path: Path) -> None:
    path = tmp_path / "pool.jsonl"
    good = json.dumps({"instruction": "Q", "output": "A"}).encode()
    bad = b'{"instruction": "caf\xe9", "output": "A"}'
    path.write_bytes(good + b"\n" + bad + b"\n")
    result = load_pool(path)

    (error,) = result.errors
    assert error.location == f"{path}:2"
    in_line = bad.index(b"\xe9")
    assert error.message.startswith(
        f"invalid UTF-8 at byte offset {in_line} of the line (offset {len(good) + 1 + in_line} in the file): "
        "invalid continuation byte"
    )
    assert "0xe9" in error.message
    assert [d.query for d in result.items] == ["Q"]


def test_invalid_utf8_in_a_json_array_names_every_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "pool.json"
    path.write_bytes(b'[\n{"prompt": "\xff", "response": "R"},\n{"prompt": "ok", "response": "\xc3("}\n]')
    result = load_pool(path)

    assert [p.location for p in result.errors] == [f"{path}:2", f"{path}:3", path.as_posix()]
    assert all("invalid UTF-8 at byte offset" in p.message for p in result.errors[:2])


def test_duplicates_are_dropped_counted_and_reported(write_jsonl) -> None:
    path = write_jsonl(
        [
            {"instruction": "Q", "output": "A"},
            {"instruction": "Other", "output": "B"},
            {"instruction": "Q", "input": "", "output": "A", "id": "different metadata, same content"},
            {"instruction": "Q", "output": "A"},
        ]
    )
    result = load_pool(path)

    assert result.ok
    assert [d.query for d in result.items] == ["Q", "Other"]
    assert result.duplicates_dropped == 2
    assert [(d.location, d.first_location, d.item_id) for d in result.duplicates] == [
        (f"{path}:3", f"{path}:1", result.items[0].id),
        (f"{path}:4", f"{path}:1", result.items[0].id),
    ]
    assert [str(p) for p in result.warnings] == [
        f"{path}:3: warning: duplicate of the pool item at {path}:1 (same content, id {result.items[0].id}); dropped",
        f"{path}:4: warning: duplicate of the pool item at {path}:1 (same content, id {result.items[0].id}); dropped",
    ]


def test_items_over_the_token_budget_are_dropped_and_reported(write_jsonl) -> None:
    path = write_jsonl(
        [
            {"instruction": "one two", "output": "three"},
            {"instruction": "one two three", "output": "four five six"},
        ]
    )
    result = load_pool(path, max_item_tokens=5, count_tokens=_words)

    assert result.ok
    assert [d.query for d in result.items] == ["one two"]
    (dropped,) = result.over_budget
    assert (dropped.location, dropped.tokens, dropped.budget) == (f"{path}:2", 6, 5)
    (warning,) = result.warnings
    assert str(warning) == f"{path}:2: warning: pool item has 6 tokens, more than max_item_tokens=5; dropped"


def test_heldout_budget_counts_history_query_and_reference(write_jsonl) -> None:
    path = write_jsonl([{"conversations": [{"from": "human", "value": "a b"}, {"from": "gpt", "value": "c"},
                                           {"from": "human", "value": "d"}, {"from": "gpt", "value": "e f"}]}])

    within = load_heldout(path, max_item_tokens=6, count_tokens=_words)
    assert [len(p.history) for p in within.items] == [1]
    over = load_heldout(path, max_item_tokens=5, count_tokens=_words)
    assert [(o.location, o.tokens) for o in over.over_budget] == [(f"{path}:1", 6)]


def test_an_mtbench_turn_whose_earlier_turn_was_dropped_is_dropped_too(write_jsonl) -> None:
    path = write_jsonl([{"turns": ["a b c", "d"], "reference": ["e f g", "h"]}, {"turns": ["i", "j"]}])

    result = load_heldout(path, turns="both", max_item_tokens=5, count_tokens=_words)
    assert [o.tokens for o in result.over_budget] == [6]
    assert [(p.query, p.follows is not None) for p in result.items] == [("i", False), ("j", True)]
    dropped = [w for w in result.warnings if "follows" in w.message]
    assert [(w.location, w.severity) for w in dropped] == [(f"{path}:1", Severity.WARNING)]
    assert "which was dropped (it is asked after that prompt's answer); dropped" in dropped[0].message


def test_all_items_over_budget_leaves_an_empty_pool_error(write_jsonl) -> None:
    path = write_jsonl([{"instruction": "a b c", "output": "d"}])
    result = load_pool(path, max_item_tokens=2, count_tokens=_words)

    assert [str(p) for p in result.errors] == [
        f"{path}: the pool is empty: all 1 pool items were dropped (see the warnings)"
    ]


def test_empty_pool_from_an_empty_json_array_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "pool.json"
    path.write_text("[ ]\n")
    pool = load_pool(path)

    assert not pool.items
    assert [str(p) for p in pool.errors] == [f"{path}: the pool is empty: no record became a pool item"]
    assert [str(p) for p in load_heldout(path).errors] == [
        f"{path}: the held-out set is empty: no record became a held-out prompt"
    ]


@pytest.mark.parametrize("content", [b"", b"  \n\n\t\n", b"\xef\xbb\xbf\n"])
def test_empty_file_is_an_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "pool.jsonl"
    path.write_bytes(content)

    assert [str(p) for p in load_pool(path).errors] == [f"{path}: file is empty"]


def test_missing_file_and_directory_are_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    result = load_pool(missing)

    assert (result.items, result.format) == ((), None)
    assert [str(p) for p in result.errors] == [f"{missing}: file does not exist"]
    assert [str(p) for p in load_heldout(tmp_path).errors] == [
        f"{tmp_path}: is a directory, expected a data file (or a dataset directory written by Dataset.save_to_disk, "
        f"holding state.json)"
    ]


def test_undetectable_format_names_the_line_and_the_keys_seen(write_jsonl) -> None:
    path = write_jsonl([{"question": "Q", "answer": "A"}])
    result = load_pool(path)

    first = result.errors[0]
    assert first.location == f"{path}:1"
    assert first.message.startswith("cannot detect the data format from the keys of this record (answer, question)")
    assert "alpaca (instruction, input?, output)" in first.message
    assert result.format is None and not result.format_detected


def test_records_that_are_not_objects_cannot_be_detected(tmp_path: Path) -> None:
    path = tmp_path / "pool.json"
    path.write_text('["just", "strings"]')

    assert str(load_pool(path).errors[0]) == f"{path}:1: expected JSON objects (one per record), got string"


def test_broken_urial_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "prompt.txt"
    path.write_text("Rules.\n\n# Query:\n```\nQ\n```\n\n# Answer:\nno fence\n")
    (error, empty) = load_pool(path).errors

    assert error.location == f"{path}:8"
    assert "'# Answer:' must be followed by a line '```'" in error.message
    assert "the pool is empty" in empty.message


def test_raise_if_errors_lists_every_error_and_passes_warnings(write_jsonl) -> None:
    path = write_jsonl([{"instruction": "Q"}, "{", {"instruction": "Q", "output": "A"}, {"instruction": "Q", "output": "A"}])
    result = load_pool(path)

    with pytest.raises(DataError) as raised:
        result.raise_if_errors()
    assert raised.value.summary == f"{path}: 2 errors in the pool file"
    assert raised.value.problems == (
        f"{path}:1: missing field 'output' (alpaca format expects instruction, input?, output)",
        f"{path}:2: broken JSON at column 2: Expecting property name enclosed in double quotes",
    )

    clean = load_pool(write_jsonl([{"instruction": "Q", "output": "A"}] * 2, name="dups.jsonl"))
    assert clean.warnings and clean.raise_if_errors() is clean
    assert all(p.severity is Severity.WARNING for p in clean.problems)


def test_bad_arguments_are_config_errors(write_jsonl) -> None:
    path = write_jsonl([{"instruction": "Q", "output": "A"}])

    with pytest.raises(ConfigError, match="data format must be one of auto, alpaca, .*got 'alpacca'"):
        load_pool(path, "alpacca")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="turns must be one of first, both, got 'second'"):
        load_heldout(path, turns="second")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_item_tokens needs count_tokens"):
        load_pool(path, max_item_tokens=10)
    with pytest.raises(ConfigError, match="max_item_tokens must be an integer >= 1, got 0"):
        load_pool(path, max_item_tokens=0, count_tokens=_words)
