"""How the driver reports progress; the CLI renders it with rich, tests record it."""

from __future__ import annotations

from typing import Protocol


class ProgressSink(Protocol):
    """Receives the driver's progress events (never raises into the driver).

    ``step_started`` comes before a step's units are sent (``units`` to run, ``pairs`` (candidate, prompt)
    pairs to compute, ``stored`` pairs already in the database), and again before each round of follow-up
    prompts (MT-Bench's turn 2, ``stored`` 0); ``unit_done`` after each unit is persisted,
    with the tokens its requests computed and took from the cache; ``step_finished`` after the step's
    selection, with the log line the driver wrote.
    """

    def step_started(self, step: int, units: int, pairs: int, stored: int) -> None: ...

    def unit_done(self, computed_tokens: int, cached_tokens: int, ok: bool) -> None: ...

    def step_finished(self, step: int, summary: str) -> None: ...


class NullProgress:
    """Discards progress events."""

    def step_started(self, step: int, units: int, pairs: int, stored: int) -> None:
        pass

    def unit_done(self, computed_tokens: int, cached_tokens: int, ok: bool) -> None:
        pass

    def step_finished(self, step: int, summary: str) -> None:
        pass
