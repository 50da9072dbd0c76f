"""Reading a data file into JSON records that remember their line, reporting what cannot be read.

Two layouts are read, told apart by content rather than by file name: a file whose first non-space character
is ``[`` is one JSON array, anything else is JSON Lines (one JSON value per line, blank lines skipped). A
UTF-8 byte-order mark is accepted. Invalid UTF-8 is reported with its line and byte offset; a broken JSON line
is reported and reading goes on with the next line. A JSON array cannot be re-synchronised after a syntax
error or undecodable bytes, so those stop the array (every bad line is still reported).
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from demo_search.data.problems import Problem, RecordUnit

_BOM = b"\xef\xbb\xbf"
_JSON_WHITESPACE = " \t\r\n"


class Layout(str, Enum):
    """How the records of a source are laid out (the table layouts are read by :mod:`demo_search.data.tables`)."""

    JSONL = "jsonl"
    JSON_ARRAY = "json_array"
    PARQUET = "parquet"
    SAVED_DATASET = "saved_dataset"

    @property
    def unit(self) -> RecordUnit:
        """What a record's number counts: text ``line`` s (from 1) or table ``row`` s (from 0)."""
        return "row" if self in (Layout.PARQUET, Layout.SAVED_DATASET) else "line"


@dataclass(frozen=True)
class SourceRecord:
    """One decoded JSON value and the 1-based line it starts on (for a table: its row, from 0)."""

    line: int
    value: object


@dataclass(frozen=True)
class SourceRead:
    """What :func:`parse_records` got from a file: records in file order, and the problems met on the way."""

    layout: Layout
    records: tuple[SourceRecord, ...]
    problems: tuple[Problem, ...]


def read_bytes(path: Path, display: str) -> bytes | Problem:
    """The file's bytes, or a problem saying why there are none (missing, a directory, unreadable, empty)."""
    if not path.exists():
        return Problem(display, None, None, "file does not exist")
    if path.is_dir():
        return Problem(display, None, None, "is a directory, expected a data file (or a dataset directory written "
                                            "by Dataset.save_to_disk, holding state.json)")
    try:
        data = path.read_bytes()
    except OSError as error:
        return Problem(display, None, None, f"cannot read the file: {error.strerror or error}")
    if not data.removeprefix(_BOM).strip():
        return Problem(display, None, None, "file is empty")
    return data


def sniff_layout(data: bytes) -> Layout:
    """``JSON_ARRAY`` when the first non-space character is ``[``, else ``JSONL``."""
    return Layout.JSON_ARRAY if data.removeprefix(_BOM).lstrip().startswith(b"[") else Layout.JSONL


def parse_records(data: bytes, display: str) -> SourceRead:
    """Every JSON value in ``data`` (a file's bytes; ``display`` is the file name used in problem locations)."""
    layout = sniff_layout(data)
    if layout is Layout.JSON_ARRAY:
        records, problems = _read_json_array(data, display)
    else:
        records, problems = _read_json_lines(data, display)
    return SourceRead(layout, tuple(records), tuple(problems))


def decode_text(data: bytes, display: str) -> str | list[Problem]:
    """``data`` as text (without a byte-order mark), or one problem per line holding invalid UTF-8."""
    decoded = [_decode_line(raw, number, offset, display) for number, offset, raw in _split_lines(data)]
    bad_bytes = [problem for problem in decoded if isinstance(problem, Problem)]
    return bad_bytes or "\n".join(str(line) for line in decoded)


def _decode_line(raw: bytes, line: int, file_offset: int, display: str) -> str | Problem:
    try:
        return raw.decode("utf-8-sig" if line == 1 else "utf-8")
    except UnicodeDecodeError as error:
        start = error.start + (len(_BOM) if line == 1 and raw.startswith(_BOM) else 0)
        return Problem(
            display,
            line,
            None,
            f"invalid UTF-8 at byte offset {start} of the line (offset {file_offset + start} in the file): "
            f"{error.reason} (byte 0x{raw[start]:02x}); the file must be UTF-8 encoded",
        )


def _split_lines(data: bytes) -> list[tuple[int, int, bytes]]:
    """``(line number, byte offset of the line in the file, line bytes without the newline)``."""
    lines = []
    offset = 0
    for number, raw in enumerate(data.split(b"\n"), start=1):
        lines.append((number, offset, raw))
        offset += len(raw) + 1
    return lines


def _read_json_lines(data: bytes, display: str) -> tuple[list[SourceRecord], list[Problem]]:
    records: list[SourceRecord] = []
    problems: list[Problem] = []
    for number, offset, raw in _split_lines(data):
        text = _decode_line(raw, number, offset, display)
        if isinstance(text, Problem):
            problems.append(text)
            continue
        if not text.strip():
            continue
        try:
            records.append(SourceRecord(number, json.loads(text)))
        except json.JSONDecodeError as error:
            problems.append(
                Problem(display, number, None, f"broken JSON at column {error.colno}: {error.msg}")
            )
    return records, problems


def _read_json_array(data: bytes, display: str) -> tuple[list[SourceRecord], list[Problem]]:
    text = decode_text(data, display)
    if isinstance(text, list):
        return [], text
    line_starts = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]

    def line_of(index: int) -> int:
        return bisect.bisect_right(line_starts, index)

    def broken(index: int, message: str) -> Problem:
        column = index - line_starts[line_of(index) - 1] + 1
        return Problem(display, line_of(index), None, f"broken JSON at column {column}: {message}")

    decoder = json.JSONDecoder()
    records: list[SourceRecord] = []
    index = _skip_whitespace(text, text.index("[") + 1)
    if index < len(text) and text[index] == "]":
        index += 1
    else:
        while True:
            try:
                value, end = decoder.raw_decode(text, index)
            except json.JSONDecodeError as error:
                return records, [broken(error.pos, error.msg)]
            records.append(SourceRecord(line_of(index), value))
            index = _skip_whitespace(text, end)
            if index < len(text) and text[index] == ",":
                index = _skip_whitespace(text, index + 1)
                continue
            if index < len(text) and text[index] == "]":
                index += 1
                break
            return records, [broken(index, "expected ',' or ']' after an array element")]
    trailing = _skip_whitespace(text, index)
    if trailing < len(text):
        return records, [broken(trailing, "unexpected content after the closing ']' of the array")]
    return records, []


def _skip_whitespace(text: str, index: int) -> int:
    while index < len(text) and text[index] in _JSON_WHITESPACE:
        index += 1
    return index
