"""Problems found while loading a data file, collected rather than raised one at a time.

A loader keeps going after a bad record so that ``demo-search validate`` can print every problem of a file at
once. Each :class:`Problem` names where it is (``file:line``, or just ``file`` for whole-file problems), the
field it concerns when there is one, and what was expected; its message names the field itself, so
``str(problem)`` reads on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

RecordUnit = Literal["line", "row"]
"""What a problem's number counts: a line of a text file (from 1), or a row of a table (from 0, as
``dataset[i]``)."""


class Severity(str, Enum):
    """``ERROR`` makes a load fail (:meth:`LoadResult.raise_if_errors`); ``WARNING`` only informs.

    Warnings are used for things the loader handled by itself: duplicates and over-budget items it dropped,
    leading system turns it ignored, later turns whose earlier turn was dropped.
    """

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One problem in the file ``path``: at ``line`` (1-based; ``None`` for the whole file; with ``unit="row"``
    the 0-based row of a table), about ``field`` (a path such as ``conversations[2].value``; ``None`` when the
    problem is not about one field)."""

    path: str
    line: int | None
    field: str | None
    message: str
    severity: Severity = Severity.ERROR
    unit: RecordUnit = "line"

    @property
    def location(self) -> str:
        """``"path:line"`` (``"path row N"`` in a table), or ``"path"`` for a whole-file problem."""
        return location(self.path, self.line, self.unit)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        prefix = "" if self.is_error else "warning: "
        return f"{self.location}: {prefix}{self.message}"


def location(path: str, line: int | None = None, unit: RecordUnit = "line") -> str:
    """``"path:line"``, ``"path row N"`` for a table's row, or ``"path"`` when there is no line."""
    if line is None:
        return path
    return f"{path}:{line}" if unit == "line" else f"{path} row {line}"
