"""The CLI's rich consoles, and logging rendered for a terminal or, off one, as plain lines.

On a terminal, output is rich as usual. Off a terminal (a pipe, a file, a Ray Job's log) nothing is cut or
wrapped: stdout has no width limit, so tables render at their natural width and every line is whole, and each log
record is one plain line ``TIME LEVEL LOGGER: MESSAGE``. Neither console replaces ``:name:`` codes by emoji, so a
search named ``x`` prints as ``x``; user strings still need :func:`rich.markup.escape` (or ``Text``) in markup.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from rich.console import Console, ConsoleDimensions
from rich.logging import RichHandler

UNBOUNDED_WIDTH = 100_000
"""The width of the output console off a terminal: wider than any line the CLI prints."""
PLAIN_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
PLAIN_LOG_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
QUIET_LOGGERS = ("ray", "urllib3", "httpx", "filelock", "alembic.runtime.migration")


class OutputConsole(Console):
    """A console that measures the terminal it writes to, and off a terminal has no width limit."""

    @property
    def size(self) -> ConsoleDimensions:
        measured = super().size
        return measured if self.is_terminal else ConsoleDimensions(UNBOUNDED_WIDTH, measured.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


console = OutputConsole(highlight=False, emoji=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


class OneLineFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER: MESSAGE`` on exactly one line: line breaks inside a record (a message, a traceback)
    are written as ``\\n``, so every line of a log is one record."""

    def __init__(self) -> None:
        super().__init__(PLAIN_LOG_FORMAT, datefmt=PLAIN_LOG_DATE_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r\n", "\n").replace("\n", "\\n")


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler on whatever ``sys.stderr`` is when a record is written (as rich's console writes), so a
    test that swaps stderr for a while leaves no handler on a closed stream behind."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """Ignored: the stream is always the current ``sys.stderr``."""


def log_handler() -> logging.Handler:
    """Rich's handler when stderr is a terminal; else a plain handler writing one line per record."""
    if err_console.is_terminal:
        return RichHandler(console=err_console, show_path=False, rich_tracebacks=False)
    handler = StderrHandler()
    handler.setFormatter(OneLineFormatter())
    return handler


def setup_logging(verbose: bool) -> None:
    """Route the library's ``logging`` records to stderr (see :func:`log_handler`)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[log_handler()],
        force=True,
    )
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)


__all__ = [
    "OneLineFormatter", "OutputConsole", "StderrHandler", "console", "err_console", "log_handler", "setup_logging",
]
