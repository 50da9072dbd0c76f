"""The errors that ``demo_search`` raises for problems a user can fix.

Each error carries a one-line ``summary`` and a list of ``problems``, one line each, every line naming where the
problem is (a ``file:line``, a config key path) and what was expected. ``str(error)`` is the summary followed by
the problems, one per line, ready to print as is.
"""

from __future__ import annotations

from collections.abc import Iterable


class DemoSearchError(Exception):
    """Base class of every error ``demo_search`` raises on purpose."""

    def __init__(self, summary: str, problems: Iterable[str] = ()) -> None:
        self.summary = summary
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__(self.format())

    def format(self) -> str:
        """The summary, then each problem on its own indented line."""
        if not self.problems:
            return self.summary
        return "\n".join([self.summary, *(f"  - {problem}" for problem in self.problems)])

    def __str__(self) -> str:
        return self.format()

    def __reduce__(self) -> tuple[type[DemoSearchError], tuple[str, tuple[str, ...]]]:
        # Keep summary and problems apart when pickled (e.g. when Ray sends an error between processes).
        return (type(self), (self.summary, self.problems))


class ConfigError(DemoSearchError):
    """A search configuration (file, overrides or environment) is unreadable or invalid."""


class DataError(DemoSearchError):
    """A data file (candidate pool, held-out prompts, demonstrations) is unreadable or invalid."""
