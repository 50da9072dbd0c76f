"""What loading one data file produced: the items, the format used, what was dropped, and every problem."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from demo_search.data.problems import Problem
from demo_search.errors import DataError
from demo_search.types import Demonstration, HeldOutPrompt

ItemT = TypeVar("ItemT", Demonstration, HeldOutPrompt)


@dataclass(frozen=True)
class Duplicate:
    """An item dropped because an earlier item of the file has the same content id."""

    location: str
    first_location: str
    item_id: str


@dataclass(frozen=True)
class OverBudget:
    """An item dropped because its text has more tokens than ``max_item_tokens``."""

    location: str
    item_id: str
    tokens: int
    budget: int


@dataclass(frozen=True)
class LoadResult(Generic[ItemT]):
    """The outcome of loading one file; nothing in it is raised until :meth:`raise_if_errors`.

    ``format`` is the format used (``None`` when the file could not be read or its format not detected) and
    ``format_detected`` tells whether it was detected (``format="auto"``) rather than given. ``items`` are in
    file order, without the ``duplicates`` and ``over_budget`` items, which also appear in ``problems`` as
    warnings.
    """

    path: str
    kind: str
    items: tuple[ItemT, ...]
    format: str | None
    format_detected: bool = False
    duplicates: tuple[Duplicate, ...] = ()
    over_budget: tuple[OverBudget, ...] = ()
    problems: tuple[Problem, ...] = ()

    @property
    def duplicates_dropped(self) -> int:
        return len(self.duplicates)

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(problem for problem in self.problems if problem.is_error)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(problem for problem in self.problems if not problem.is_error)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def raise_if_errors(self) -> LoadResult[ItemT]:
        """``self`` when :attr:`ok`; otherwise raise :class:`DataError` listing every error, one per line."""
        errors = self.errors
        if errors:
            noun = "error" if len(errors) == 1 else "errors"
            raise DataError(f"{self.path}: {len(errors)} {noun} in the {self.kind} file", [str(p) for p in errors])
        return self
