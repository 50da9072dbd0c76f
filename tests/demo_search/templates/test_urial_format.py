"""URIAL prompt files: parse, render back byte-identically, and name file:line on malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo_search.errors import DataError
from demo_search.templates.urial import (
    BLOCK_STOP,
    URIAL_STOP,
    UrialPrompt,
    answer_tail,
    extract_answer,
    load_urial,
    parse_urial,
    query_header,
    render_demonstration,
    render_urial,
)
from demo_search.types import Demonstration, Turn
from tests.paper_data import PAPER_DATA

URIAL_FILES = sorted(PAPER_DATA.glob("*.txt"))
EXPECTED_BLOCKS = {"urial.txt": 3, "urial.plus.best_4-5-6.txt": 6, "urial.greedy.50.txt": 50, "urial.random.50.txt": 50}


def test_the_vendored_files_are_all_covered():
    assert {path.name for path in URIAL_FILES} == set(EXPECTED_BLOCKS)


@pytest.mark.parametrize("path", URIAL_FILES, ids=lambda p: p.name)
def test_paper_file_round_trips_byte_identically(path: Path):
    prompt = load_urial(path)
    assert len(prompt.demonstrations) == EXPECTED_BLOCKS[path.name]
    assert render_urial(prompt).encode("utf-8") == path.read_bytes()
    assert prompt.rules.startswith("# Instruction\n\nBelow is a list of conversations")
    assert prompt.rules.endswith("address the user's query or problem at hand.")
    assert prompt.trailer == "\n"


def test_urial_file_keeps_trailing_spaces_non_ascii_and_sources():
    prompt = load_urial(PAPER_DATA / "urial.txt")
    renewable, natalia, turkey = prompt.demonstrations
    assert renewable.query == "Can you tell me some common types of renewable energy sources?"
    assert natalia.query.endswith("in April and May? ")
    assert "325-350°F (163-177°C)" in turkey.answer
    assert turkey.answer.endswith("for your specific fryer model.")
    assert [demo.source for demo in prompt.demonstrations] == [f"{PAPER_DATA / 'urial.txt'}:{n}" for n in (9, 32, 48)]
    assert len({demo.id for demo in prompt.demonstrations}) == 3


def test_nested_code_fences_stay_inside_answers():
    prompt = load_urial(PAPER_DATA / "urial.random.50.txt")
    with_code = [demo for demo in prompt.demonstrations if "```python" in demo.answer]
    assert with_code, "urial.random.50.txt has answers with python code blocks"
    for demo in with_code:
        assert demo.answer.count("\n```") >= 1
        assert "# Query:" not in demo.answer


def test_urial_base_set_is_the_suffix_of_the_plus_file():
    base = load_urial(PAPER_DATA / "urial.txt")
    plus = load_urial(PAPER_DATA / "urial.plus.best_4-5-6.txt")
    assert [d.id for d in plus.demonstrations[-3:]] == [d.id for d in base.demonstrations]


def test_block_layout_and_its_pieces():
    demo = Demonstration.single("What is 2+2? ", "It is 4.\n```python\nprint(4)\n```\nDone.")
    block = render_demonstration(demo)
    assert block == (
        "# Query:\n```\nWhat is 2+2? \n```\n\n# Answer:\n```\nIt is 4.\n```python\nprint(4)\n```\nDone.\n```"
    )
    assert block == query_header(demo.query) + answer_tail(demo.answer)
    assert query_header("q").endswith("# Answer:\n```\n")


def test_multi_turn_demonstration_renders_one_block_per_turn():
    demo = Demonstration.from_turns((Turn("a", "b"), Turn("c", "d")))
    text = render_urial(UrialPrompt(rules="R", demonstrations=(demo,)))
    assert text == "R\n\n" + render_demonstration(Demonstration.single("a", "b")) + "\n\n" + render_demonstration(
        Demonstration.single("c", "d")
    ) + "\n"
    assert [d.turns for d in parse_urial(text).demonstrations] == [(Turn("a", "b"),), (Turn("c", "d"),)]


@pytest.mark.parametrize(
    "text",
    [
        "Rules\n\n# Query:\n```\nq\n```\n\n# Answer:\n```\na\n```\n",
        "Rules\n\n# Query:\n```\nq\n```\n\n# Answer:\n```\na\n```",
        "Rules\n\n# Query:\n```\nq\n```\n\n# Answer:\n```\na\n```\n\n\n",
        "# Query:\n```\nq\n```\n\n# Answer:\n```\na\n```\n",
        "Rules with\n\n\nblank lines\n\n\n# Query:\n```\n\n  q \n\n```\n\n# Answer:\n```\n\na\n\n```\n",
        "Only rules\n",
        "Only rules",
        "",
    ],
)
def test_round_trip_of_edge_cases(text: str):
    assert render_urial(parse_urial(text)) == text


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("R\n\n# Query:\nq\n```\n\n# Answer:\n```\na\n```\n", 3, "opening the query"),
        ("R\n\n# Query:\n```\nq\n```\n\n# Query:\n```\nq\n```\n\n# Answer:\n```\na\n```\n", 3, "'# Answer:' missing"),
        ("R\n\n# Query:\n```\nq\n\n# Answer:\n```\na\n```\n", 7, "query of the block at line 3 is not closed"),
        ("R\n\n# Query:\n```\nq\n```\n\n# Answer:\na\n```\n", 8, "opening the answer"),
        ("R\n\n# Query:\n```\nq\n```\n\n# Answer:\n```\na\n", 8, "not terminated: no closing line"),
        (
            "R\n\n# Query:\n```\nq\n```\n\n# Answer:\n```\na\n```python\nx\n```\nmore\n",
            14,
            "not terminated",
        ),
        (
            "R\n\n# Query:\n```\nq\n```\n\n# Answer:\n```\na\n\n# Query:\n```\nq\n```\n\n# Answer:\n```\na\n```\n",
            12,
            "answer of the block at line 3 is not closed",
        ),
        ("R\n# Query:\n```\nq\n```\n\n# Answer:\n```\na\n```\n", 2, "one blank line"),
        ("R\n\n# Query:\n```\n```\n\n# Answer:\n```\na\n```\n", 3, "query of this block is empty"),
        ("R\n\n# Query:\n```\nq\n```\n\n# Answer:\n```\n```\n", 8, "is empty"),
        ("R\r\n\r\n# Query:\r\n", 1, "LF line endings"),
    ],
)
def test_malformed_files_name_file_and_line(text: str, line: int, fragment: str):
    with pytest.raises(DataError) as caught:
        parse_urial(text, source="prompt.txt")
    message = str(caught.value)
    assert f"prompt.txt:{line}:" in message
    assert fragment in message


def test_load_reports_invalid_utf8_with_its_line(tmp_path: Path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"Rules\n\n# Query:\n```\nq \xff\n```\n")
    with pytest.raises(DataError, match=rf"{path}:5: byte 0xff"):
        load_urial(path)


def test_load_reports_a_missing_file(tmp_path: Path):
    with pytest.raises(DataError, match="cannot read"):
        load_urial(tmp_path / "absent.txt")


@pytest.mark.parametrize(
    ("query", "answer", "problem"),
    [
        ("q\n# Answer:\nx", "a", "the query has a line '# Answer:'"),
        ("# Query:", "a", "the query has a line '# Query:'"),
        ("q", "a\n# Query:\nb", "the answer has a line '# Query:'"),
        ("q", "a\r\nb", "the answer has a carriage return"),
    ],
)
def test_render_refuses_text_that_would_not_parse_back(query: str, answer: str, problem: str):
    demo = Demonstration.single(query, answer, source="pool.jsonl:7")
    with pytest.raises(DataError, match=f"demonstration {demo.id} \\(pool.jsonl:7\\), turn 1: {problem}"):
        render_urial(UrialPrompt(rules="R", demonstrations=(demo,)))


def test_text_that_looks_like_headings_but_is_not_a_whole_line_round_trips():
    demo = Demonstration.single("Explain '# Answer:' ", "Use # Query: and\n```\n\n# Query: x\n```")
    text = render_urial(UrialPrompt(rules="R", demonstrations=(demo, demo)))
    assert parse_urial(text).demonstrations == (
        Demonstration.single(demo.query, demo.answer, source="<string>:3"),
        Demonstration.single(demo.query, demo.answer, source="<string>:17"),
    )


@pytest.mark.parametrize(
    "generated",
    [
        "It is 4.",  # stopped by BLOCK_STOP (the stop string itself is not part of the text)
        "It is 4.\n```\n\n",  # stopped by URIAL_STOP
        "It is 4.\n```",  # end of sequence right after the fence
    ],
)
def test_extract_answer_strips_the_closing_fence(generated: str):
    assert extract_answer(generated) == "It is 4."


def test_extract_answer_keeps_a_truncated_answer_and_inner_code_blocks():
    assert extract_answer("Code:\n```python\nx = 1") == "Code:\n```python\nx = 1"
    assert extract_answer("Code:\n```python\nx = 1\n```\nok\n```\n\n") == "Code:\n```python\nx = 1\n```\nok"


def test_stop_strings_end_where_the_next_block_begins():
    demo = Demonstration.single("q", "a\n```\ncode\n```\nend")
    continuation = answer_tail(demo.answer) + "\n\n" + query_header("next")
    assert continuation.index(BLOCK_STOP) == len(demo.answer)
    assert extract_answer(continuation[: continuation.index(URIAL_STOP)]) == demo.answer
