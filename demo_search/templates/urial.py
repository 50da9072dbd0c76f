"""The URIAL prompt format: a rules preamble, then ``# Query:`` / ``# Answer:`` blocks fenced with triple backticks.

One block, exactly as URIAL's prompt files write it::

    # Query:
    ```
    <query>
    ```

    # Answer:
    ```
    <answer>
    ```

A file is the rules text, a blank line, the blocks separated by blank lines, and a newline at the end of the file.
Queries and answers are kept verbatim (trailing spaces, nested code fences such as ```` ```python ````,
non-ASCII). Parsing then rendering gives back the same bytes; the only non-canonical whitespace a file may carry
is the run of newlines at its end, recorded as :attr:`UrialPrompt.trailer`.

Grammar used by the parser, so that nested fences inside answers need no escaping:

* every line that is exactly ``# Query:`` starts a block (so a query or answer cannot hold such a line);
* a query runs from the line after its opening fence to the closing fence line that precedes the first
  ``# Answer:`` line of the block (a blank line sits between them);
* an answer runs to the closing fence line before the blank line that precedes the next block, or, for the last
  block, to the last fence line of the file, after which only newlines may follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from demo_search.errors import DataError
from demo_search.types import Demonstration, Turn

QUERY_HEADING = "# Query:"
ANSWER_HEADING = "# Answer:"
FENCE = "```"
BLOCK_SEPARATOR = "\n\n"
"""Text between the rules and the first block, and between two blocks."""
CANONICAL_TRAILER = "\n"

ANSWER_CLOSE = "\n" + FENCE
"""What ends an answer: the newline and the closing fence."""
URIAL_STOP = "# Query"
"""The stop string URIAL itself used; the generated text then ends with the closing fence (see ``extract_answer``)."""
BLOCK_STOP = ANSWER_CLOSE + BLOCK_SEPARATOR + QUERY_HEADING
"""A stop string that ends generation exactly where the answer's closing fence starts, when the model goes on to
the next block; unlike a bare closing fence it never fires on the fences of code blocks inside an answer."""


@dataclass(frozen=True)
class UrialPrompt:
    """A parsed URIAL prompt file: ``rules`` (may be empty), the demonstrations in file order, and ``trailer``,
    the newlines after the last closing fence (one in canonical files)."""

    rules: str
    demonstrations: tuple[Demonstration, ...]
    trailer: str = CANONICAL_TRAILER

    def __post_init__(self) -> None:
        if self.trailer.strip("\n"):
            raise ValueError(f"trailer must hold only newlines, got {self.trailer!r}")


def query_header(query: str) -> str:
    """The ``# Query:`` block of ``query``, the ``# Answer:`` heading and the answer's opening fence: the text
    that precedes a generated answer."""
    return f"{QUERY_HEADING}\n{FENCE}\n{query}\n{FENCE}{BLOCK_SEPARATOR}{ANSWER_HEADING}\n{FENCE}\n"


def answer_tail(answer: str) -> str:
    """The answer and its closing fence: what follows ``query_header`` (the scored target of likelihood scoring)."""
    return answer + ANSWER_CLOSE


def render_turn(turn: Turn) -> str:
    """One ``# Query:`` / ``# Answer:`` block, without a separator after it."""
    return query_header(turn.query) + answer_tail(turn.answer)


def render_demonstration(demonstration: Demonstration) -> str:
    """A demonstration as it appears in a prompt: one block per turn, separated by blank lines."""
    return BLOCK_SEPARATOR.join(render_turn(turn) for turn in demonstration.turns)


def render_urial(prompt: UrialPrompt) -> str:
    """The prompt file text; ``render_urial(parse_urial(text)) == text`` for every text ``parse_urial`` accepts.

    Raises ``DataError`` for demonstrations whose text would not parse back (a line ``# Query:`` in a query or
    an answer, a line ``# Answer:`` in a query, a carriage return).
    """
    problems = [problem for demo in prompt.demonstrations for problem in _unparsable(demo)]
    if problems:
        raise DataError("demonstrations that a URIAL prompt file cannot hold", problems)
    parts = [prompt.rules] if prompt.rules else []
    parts.extend(render_demonstration(demo) for demo in prompt.demonstrations)
    return BLOCK_SEPARATOR.join(parts) + prompt.trailer


def _unparsable(demo: Demonstration) -> list[str]:
    where = f"demonstration {demo.id}" + (f" ({demo.source})" if demo.source else "")
    problems = []
    for number, turn in enumerate(demo.turns, start=1):
        for field, text, headings in (
            ("query", turn.query, (QUERY_HEADING, ANSWER_HEADING)),
            ("answer", turn.answer, (QUERY_HEADING,)),
        ):
            lines = text.split("\n")
            problems += [f"{where}, turn {number}: the {field} has a line {h!r}" for h in headings if h in lines]
            if "\r" in text:
                problems.append(f"{where}, turn {number}: the {field} has a carriage return")
    return problems


def extract_answer(generated: str) -> str:
    """The answer in a generated continuation of ``query_header``: the text before its closing fence.

    Handles every way generation can end: at ``BLOCK_STOP`` (nothing to strip), at ``URIAL_STOP`` (the text
    ends with the closing fence and a blank line), or at end-of-sequence right after the closing fence. A
    continuation without a closing fence at its end (cut by ``max_tokens``) is returned unchanged.
    """
    body = generated.rstrip("\n")
    if body.endswith(ANSWER_CLOSE):
        return body[: -len(ANSWER_CLOSE)]
    return generated


def parse_urial(text: str, source: str = "<string>") -> UrialPrompt:
    """Parse a URIAL prompt file's text; errors raise ``DataError`` naming ``source:line``."""
    if "\r" in text:
        line = text[: text.index("\r")].count("\n") + 1
        raise DataError(
            f"{source}: unsupported line endings",
            [f"{source}:{line}: carriage return found; URIAL prompt files use LF line endings (convert with dos2unix)"],
        )
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if line == QUERY_HEADING]
    if not starts:
        rules = text.rstrip("\n")
        return UrialPrompt(rules=rules, demonstrations=(), trailer=text[len(rules) :])
    parser = _BlockParser(lines, source)
    rules = parser.rules(starts[0])
    ends = starts[1:] + [len(lines)]
    demonstrations = tuple(parser.block(start, end, last=end == len(lines)) for start, end in zip(starts, ends))
    return UrialPrompt(rules=rules, demonstrations=demonstrations, trailer=parser.trailer)


def load_urial(path: str | Path) -> UrialPrompt:
    """Read and parse a URIAL prompt file (UTF-8); errors raise ``DataError`` naming ``path:line``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the URIAL prompt file", [f"{path}: {exc.strerror or exc}"]) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path}: not valid UTF-8",
            [f"{path}:{line}: byte {raw[exc.start]:#04x} at offset {exc.start} is not valid UTF-8 ({exc.reason})"],
        ) from exc
    return parse_urial(text, source=str(path))


class _BlockParser:
    """Cuts the lines of one file into rules and blocks; line numbers in errors are 1-based."""

    def __init__(self, lines: list[str], source: str) -> None:
        self.lines = lines
        self.source = source
        self.trailer = CANONICAL_TRAILER

    def _error(self, index: int, problem: str) -> DataError:
        return DataError(f"{self.source}: not a valid URIAL prompt file", [f"{self.source}:{index + 1}: {problem}"])

    def rules(self, first_start: int) -> str:
        if first_start == 0:
            return ""
        rules = "\n".join(self.lines[: first_start - 1])
        if self.lines[first_start - 1] != "" or not rules:
            raise self._error(
                first_start,
                f"expected the rules text, then one blank line, before the first {QUERY_HEADING!r}",
            )
        return rules

    def block(self, start: int, end: int, *, last: bool) -> Demonstration:
        lines = self.lines
        if start + 1 >= end or lines[start + 1] != FENCE:
            got = lines[start + 1] if start + 1 < len(lines) else "end of file"
            raise self._error(
                start, f"{QUERY_HEADING!r} must be followed by a line {FENCE!r} opening the query, got {got!r}"
            )
        answer_at = next((i for i in range(start + 2, end) if lines[i] == ANSWER_HEADING), None)
        if answer_at is None:
            raise self._error(start, f"{ANSWER_HEADING!r} missing in the block that starts here")
        query_close = answer_at - 2
        if not (query_close > start + 1 and lines[query_close] == FENCE and lines[answer_at - 1] == ""):
            raise self._error(
                answer_at,
                f"the query of the block at line {start + 1} is not closed: expected a line {FENCE!r}, "
                f"then one blank line before {ANSWER_HEADING!r}",
            )
        if query_close == start + 2:
            raise self._error(start, "the query of this block is empty")
        if answer_at + 1 >= end or lines[answer_at + 1] != FENCE:
            raise self._error(answer_at, f"{ANSWER_HEADING!r} must be followed by a line {FENCE!r} opening the answer")
        close = self._last_answer_close if last else self._answer_close
        answer_close = close(start, answer_at, end)
        if answer_close == answer_at + 2:
            raise self._error(answer_at, f"the answer of the block at line {start + 1} is empty")
        query = "\n".join(lines[start + 2 : query_close])
        answer = "\n".join(lines[answer_at + 2 : answer_close])
        return Demonstration.single(query, answer, source=f"{self.source}:{start + 1}")

    def _answer_close(self, start: int, answer_at: int, end: int) -> int:
        """The closing fence of an answer followed by another block: the line before the separating blank line."""
        close_at = end - 2
        if not (close_at > answer_at + 1 and self.lines[close_at] == FENCE and self.lines[end - 1] == ""):
            raise self._error(
                end,
                f"the answer of the block at line {start + 1} is not closed: expected a line {FENCE!r}, "
                f"then one blank line before the next {QUERY_HEADING!r}",
            )
        return close_at

    def _last_answer_close(self, start: int, answer_at: int, end: int) -> int:
        """The closing fence of the last answer: the last fence line, after which only newlines may follow."""
        lines = self.lines
        close_at = next((i for i in range(end - 1, answer_at + 1, -1) if lines[i] == FENCE), None)
        if close_at is None:
            raise self._error(
                answer_at, f"the answer of the block at line {start + 1} is not terminated: no closing line {FENCE!r}"
            )
        text_at = next((i for i in range(close_at + 1, end) if lines[i] != ""), None)
        if text_at is not None:
            raise self._error(
                text_at,
                f"the answer of the block at line {start + 1} is not terminated: expected its closing line "
                f"{FENCE!r} followed only by newlines up to the end of the file",
            )
        self.trailer = "\n" * (end - 1 - close_at)
        return close_at


__all__ = [
    "ANSWER_CLOSE",
    "BLOCK_SEPARATOR",
    "BLOCK_STOP",
    "URIAL_STOP",
    "UrialPrompt",
    "answer_tail",
    "extract_answer",
    "load_urial",
    "parse_urial",
    "query_header",
    "render_demonstration",
    "render_turn",
    "render_urial",
]
