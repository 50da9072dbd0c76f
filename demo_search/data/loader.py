"""Loading the candidate pool and the held-out prompts, collecting every problem instead of stopping at the first.

``load_pool`` and ``load_heldout`` read one file (JSON Lines, a JSON array, or a URIAL prompt file) or one table
(a Parquet file, or a Hugging Face dataset saved to disk; :mod:`demo_search.data.tables`), map its records (a
table's rows) with the given format (:mod:`demo_search.data.formats`) or the one detected from the keys of the
first JSON object, and return a :class:`LoadResult`; call :meth:`LoadResult.raise_if_errors` to turn errors into a
:class:`DataError`.

What is an error and what is only a warning:

* errors: a missing, unreadable or empty file; an unreadable table (or no pyarrow to read one); invalid UTF-8; a
  broken JSON line; a record with a missing, mistyped or empty field; a format that cannot be detected; and no
  usable item at all (an empty pool or held-out set). A bad record is skipped, so the rest of the file is still checked.
* warnings, for what the loader handles by dropping or ignoring it: a duplicate (same content id as an earlier
  item of the file; the first is kept); an item whose text has more tokens than ``max_item_tokens`` (dropped,
  because it could not fit a prompt anyway, and one long item should not make a large pool unusable; if that
  leaves nothing, the empty-set error fires); a leading ShareGPT or chat system message (ignored); an MT-Bench later turn
  (``turns="both"``) whose earlier turn was dropped. Identical warnings of many records are reported once, with
  their lines (a table's rows).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Literal, cast, get_args

from demo_search.data.formats import (
    RECORD_FORMATS,
    TURN_MODES,
    Mapped,
    RecordFormat,
    TurnMode,
    describe_formats,
    detect_format,
)
from demo_search.data.lengths import CountTokens, item_tokens
from demo_search.data.problems import Problem, RecordUnit, Severity, location
from demo_search.data.records import FieldIssue, RecordRejected, json_type
from demo_search.data.result import Duplicate, ItemT, LoadResult, OverBudget
from demo_search.data.sources import SourceRead, SourceRecord, decode_text, parse_records, read_bytes
from demo_search.data.tables import is_table_source, read_table
from demo_search.errors import ConfigError, DataError
from demo_search.templates.urial import parse_urial
from demo_search.types import Demonstration, HeldOutPrompt

logger = logging.getLogger(__name__)

DataFormat = Literal["auto", "alpaca", "sharegpt", "messages", "prompt_response", "mtbench", "urial"]
DATA_FORMATS: tuple[str, ...] = get_args(DataFormat)

_URIAL_BLOCK = re.compile(rb"^# Query:\r?$", re.MULTILINE)
_MAX_LINES_LISTED = 10


def load_pool(
    path: str | Path,
    format: DataFormat = "auto",
    *,
    turns: TurnMode = "first",
    max_item_tokens: int | None = None,
    count_tokens: CountTokens | None = None,
) -> LoadResult[Demonstration]:
    """The candidate pool in ``path``: one :class:`Demonstration` (with an answer) per record.

    ``format`` is one of :data:`DATA_FORMATS`; ``turns`` picks MT-Bench turns (``"first"`` or ``"both"``);
    items whose text has more than ``max_item_tokens`` tokens by ``count_tokens`` are dropped with a warning.
    Bad arguments raise :class:`ConfigError`; everything wrong with the file is in the result's ``problems``.
    """
    return _load(path, format, _POOL, turns, _budget(max_item_tokens, count_tokens))


def load_heldout(
    path: str | Path,
    format: DataFormat = "auto",
    *,
    turns: TurnMode = "first",
    max_item_tokens: int | None = None,
    count_tokens: CountTokens | None = None,
) -> LoadResult[HeldOutPrompt]:
    """The held-out prompts in ``path``: :class:`HeldOutPrompt` s whose reference answer is optional.

    Arguments as for :func:`load_pool`; with ``turns="both"`` an MT-Bench question gives one prompt per turn.
    """
    return _load(path, format, _HELDOUT, turns, _budget(max_item_tokens, count_tokens))


@dataclass(frozen=True)
class _Budget:
    max_tokens: int
    count_tokens: CountTokens


@dataclass(frozen=True)
class _Role(Generic[ItemT]):
    """What is being loaded: the pool or the held-out prompts."""

    kind: str
    collection: str
    noun: str
    from_record: Callable[[RecordFormat, object, str, TurnMode], Mapped[ItemT]]
    from_demonstration: Callable[[Demonstration], ItemT]


def _heldout_from_demonstration(demo: Demonstration) -> HeldOutPrompt:
    *history, last = demo.turns
    return HeldOutPrompt.create(last.query, reference=last.answer, history=history, source=demo.source)


_POOL: _Role[Demonstration] = _Role(
    kind="pool",
    collection="pool",
    noun="pool item",
    from_record=lambda fmt, record, source, turns: fmt.demonstration(record, source, turns),
    from_demonstration=lambda demo: demo,
)
_HELDOUT: _Role[HeldOutPrompt] = _Role(
    kind="held-out",
    collection="held-out set",
    noun="held-out prompt",
    from_record=lambda fmt, record, source, turns: fmt.heldout(record, source, turns),
    from_demonstration=_heldout_from_demonstration,
)


def _budget(max_item_tokens: int | None, count_tokens: CountTokens | None) -> _Budget | None:
    if max_item_tokens is None:
        return None
    if isinstance(max_item_tokens, bool) or not isinstance(max_item_tokens, int) or max_item_tokens < 1:
        raise ConfigError(f"max_item_tokens must be an integer >= 1, got {max_item_tokens!r}")
    if count_tokens is None:
        raise ConfigError("max_item_tokens needs count_tokens, a function that counts the tokens of a text")
    return _Budget(max_item_tokens, count_tokens)


def _load(
    path: str | Path, format: str, role: _Role[ItemT], turns: TurnMode, budget: _Budget | None
) -> LoadResult[ItemT]:
    if format not in DATA_FORMATS:
        raise ConfigError(f"data format must be one of {', '.join(DATA_FORMATS)}, got {format!r}")
    if turns not in TURN_MODES:
        raise ConfigError(f"turns must be one of {', '.join(TURN_MODES)}, got {turns!r}")
    display = str(path)
    source = _read_source(Path(path), display, format, role, turns)
    if isinstance(source, Problem):
        return LoadResult(display, role.kind, (), None, problems=(source,))
    used, candidates, problems, unit = source
    detected = format == "auto" and used is not None
    if detected:
        logger.info("%s: detected format %s", display, used)
    items, duplicates, over_budget, drop_problems = _drop_duplicates_and_long(candidates, role, budget, display, unit)
    problems = sorted([*problems, *drop_problems], key=lambda problem: problem.line or 0)
    if not items:
        problems.append(_empty_problem(display, role, len(candidates)))
    logger.info(
        "%s: %d %ss, %d duplicates and %d over-budget items dropped, %d problems",
        display, len(items), role.noun, len(duplicates), len(over_budget), len(problems),
    )
    return LoadResult(
        path=display,
        kind=role.kind,
        items=tuple(items),
        format=used,
        format_detected=detected,
        duplicates=tuple(duplicates),
        over_budget=tuple(over_budget),
        problems=tuple(problems),
    )


_Candidates = tuple[str | None, list[tuple[int | None, ItemT]], list[Problem], RecordUnit]
"""The format used, the items with their line or row (before dropping any), the problems met, and which of line
or row numbers them."""


def _read_source(path: Path, display: str, format: str, role: _Role[ItemT], turns: TurnMode) -> _Candidates | Problem:
    """The candidates of a text file or a table (Parquet, saved dataset), or the one problem that stops reading."""
    if is_table_source(path):
        if format == "urial":
            return Problem(display, None, None, "format urial needs a URIAL prompt file, not a table")
        read = read_table(path, display)
        return read if isinstance(read, Problem) else _records_candidates(read, display, format, role, turns)
    data = read_bytes(path, display)
    if isinstance(data, Problem):
        return data
    if format == "urial" or (format == "auto" and _looks_like_urial(data)):
        candidates, problems = _urial_candidates(data, display, role)
        return "urial", candidates, problems, "line"
    return _records_candidates(parse_records(data, display), display, format, role, turns)


def _records_candidates(
    read: SourceRead, display: str, format: str, role: _Role[ItemT], turns: TurnMode
) -> _Candidates:
    unit = read.layout.unit
    record_format, detect_problems = _resolve_format(format, read.records, display, unit)
    if record_format is None:
        return None, [], [*read.problems, *detect_problems], unit
    candidates, record_problems = _record_candidates(read.records, record_format, role, turns, display, unit)
    return record_format.name, candidates, [*read.problems, *record_problems], unit


def _looks_like_urial(data: bytes) -> bool:
    start = data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
    return start not in (b"[", b"{") and _URIAL_BLOCK.search(data) is not None


def _resolve_format(
    format: str, records: Sequence[SourceRecord], display: str, unit: RecordUnit
) -> tuple[RecordFormat | None, list[Problem]]:
    """The given format, or the one detected from the keys of the first JSON object in ``records``."""
    if format != "auto":
        return RECORD_FORMATS[format], []
    first = next((record for record in records if isinstance(record.value, dict)), None)
    if first is None:
        if not records:
            return None, []
        got = json_type(records[0].value)
        return None, [Problem(display, records[0].line, None, f"expected JSON objects (one per record), got {got}",
                              unit=unit)]
    keys = sorted(cast(dict[str, object], first.value))
    fmt = detect_format(keys)
    if fmt is None:
        return None, [
            Problem(
                display,
                first.line,
                None,
                f"cannot detect the data format from the keys of this record ({', '.join(keys) or 'none'}); "
                f"expected one of "
                f"{describe_formats()}; or give the format explicitly",
                unit=unit,
            )
        ]
    return fmt, []


def _record_candidates(
    records: Sequence[SourceRecord], fmt: RecordFormat, role: _Role[ItemT], turns: TurnMode, display: str,
    unit: RecordUnit,
) -> tuple[list[tuple[int | None, ItemT]], list[Problem]]:
    candidates: list[tuple[int | None, ItemT]] = []
    problems: list[Problem] = []
    notes: dict[tuple[str | None, str], list[int]] = {}
    for record in records:
        try:
            mapped = role.from_record(fmt, record.value, location(display, record.line, unit), turns)
        except RecordRejected as rejected:
            problems.extend(_problem(display, record.line, issue, unit) for issue in rejected.issues)
            continue
        for note in mapped.notes:
            notes.setdefault((note.field, note.message), []).append(record.line)
        candidates.extend((record.line, item) for item in mapped.items)
    problems.extend(_grouped_warning(display, field, message, lines, unit) for (field, message), lines in notes.items())
    return candidates, problems


def _problem(display: str, line: int | None, issue: FieldIssue, unit: RecordUnit) -> Problem:
    return Problem(display, line, issue.field, issue.message, issue.severity, unit)


def _grouped_warning(display: str, field: str | None, message: str, lines: list[int], unit: RecordUnit) -> Problem:
    if len(lines) > 1:
        listed = ", ".join(str(line) for line in lines[1:_MAX_LINES_LISTED])
        more = ", ..." if len(lines) > _MAX_LINES_LISTED else ""
        message = f"{message} (also on {len(lines) - 1} more {unit}s: {listed}{more})"
    return Problem(display, lines[0], field, message, Severity.WARNING, unit)


def _urial_candidates(
    data: bytes, display: str, role: _Role[ItemT]
) -> tuple[list[tuple[int | None, ItemT]], list[Problem]]:
    text = decode_text(data, display)
    if isinstance(text, list):
        return [], text
    try:
        prompt = parse_urial(text, source=display)
    except DataError as error:
        return [], [_problem_from_line(display, line) for line in error.problems or (error.summary,)]
    return [(_line_of_source(demo.source, display), role.from_demonstration(demo)) for demo in prompt.demonstrations], []


def _problem_from_line(display: str, line: str) -> Problem:
    """A URIAL parser problem line, ``"path:line: message"``, as a :class:`Problem`."""
    match = re.match(r"(\d+): (.*)", line.removeprefix(f"{display}:"), re.DOTALL)
    if match is None:
        return Problem(display, None, None, line.removeprefix(f"{display}: "))
    return Problem(display, int(match.group(1)), None, match.group(2))


def _line_of_source(source: str, display: str) -> int | None:
    suffix = source.removeprefix(f"{display}:")
    return int(suffix) if suffix.isdigit() else None


def _drop_duplicates_and_long(
    candidates: list[tuple[int | None, ItemT]], role: _Role[ItemT], budget: _Budget | None, display: str,
    unit: RecordUnit,
) -> tuple[list[ItemT], list[Duplicate], list[OverBudget], list[Problem]]:
    items: list[ItemT] = []
    duplicates: list[Duplicate] = []
    over_budget: list[OverBudget] = []
    problems: list[Problem] = []
    first_seen: dict[str, str] = {}
    for line, item in candidates:
        here = location(display, line, unit)
        if budget is not None:
            tokens = item_tokens(item, budget.count_tokens)
            if tokens > budget.max_tokens:
                over_budget.append(OverBudget(here, item.id, tokens, budget.max_tokens))
                message = (f"{role.noun} has {tokens} tokens, more than max_item_tokens={budget.max_tokens}; "
                           f"dropped")
                problems.append(Problem(display, line, None, message, Severity.WARNING, unit))
                continue
        follows = getattr(item, "follows", None)
        if follows is not None and follows not in first_seen:
            message = (f"{role.noun} follows {follows}, which was dropped (it is asked after that prompt's answer); "
                       f"dropped")
            problems.append(Problem(display, line, None, message, Severity.WARNING, unit))
            continue
        if item.id in first_seen:
            duplicates.append(Duplicate(here, first_seen[item.id], item.id))
            message = f"duplicate of the {role.noun} at {first_seen[item.id]} (same content, id {item.id}); dropped"
            problems.append(Problem(display, line, None, message, Severity.WARNING, unit))
            continue
        first_seen[item.id] = here
        items.append(item)
    return items, duplicates, over_budget, problems


def _empty_problem(display: str, role: _Role[ItemT], candidates: int) -> Problem:
    if candidates:
        why = f"all {candidates} {role.noun}s were dropped (see the warnings)"
    else:
        why = f"no record became a {role.noun}"
    return Problem(display, None, None, f"the {role.collection} is empty: {why}")
