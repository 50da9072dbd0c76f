"""The values a driver run gives and needs: its outcome, a step's evaluation, and the dispatcher protocol."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from demo_search.search.candidates import ScoredSet
from demo_search.search.step_failures import FailedCandidate
from workers.units import UnitResult, WorkUnit


@dataclass(frozen=True)
class SearchOutcome:
    """How a driver run ended, and what it computed (``pairs_computed`` counts (set, prompt) pairs this run sent)."""

    stop_reason: str
    best: ScoredSet
    steps_recorded: int
    pairs_computed: int
    units_failed: int
    computed_tokens: int
    cached_tokens: int


@dataclass(frozen=True)
class StepEvaluation:
    """A step's candidate sets ranked (sets without a score last), those whose unit failed for good, and the step's
    race summary when it raced."""

    ranked: list[ScoredSet]
    failed: list[FailedCandidate]
    racing: dict | None = None


class UnitDispatcher(Protocol):
    """What the driver needs of ``workers.dispatch.Dispatcher``: ``run(units)`` yielding one result per unit."""

    def run(self, units: Sequence[WorkUnit]) -> Iterator[UnitResult]: ...


__all__ = ["SearchOutcome", "StepEvaluation", "UnitDispatcher"]
