"""The units of one ``Dispatcher.run``: which to hand out next, when a failed attempt is retried, and the results.

No Ray in here, and nothing about actors beyond a name and the prefix one has warmed: the queue neither knows
nor limits how many units an actor holds at once, so a dispatcher that keeps several units in flight per actor
(or waits on them asynchronously) uses it unchanged.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from workers.dispatch_stats import StatsTally
from workers.errors import ContextLengthError
from workers.tree import GenerateResult, ScoreResult
from workers.units import UnitResult, WorkUnit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """A unit is sent at most ``max_attempts`` times in all (attempts lost with a dead actor or engine count), and a
    ``ContextLengthError`` ends it at once: the request will not fit however often it is sent."""

    max_attempts: int = 3

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")

    def retries(self, attempts: int, cause: BaseException | None) -> bool:
        """Whether a unit whose attempt number ``attempts`` failed with ``cause`` (``None``: its actor was lost)
        goes back to the queue."""
        return not isinstance(cause, ContextLengthError) and attempts < self.max_attempts


class UnitQueue:
    """Hands out the units of one run and collects exactly one ``UnitResult`` per unit.

    * ``hand_out(warmed_prefix)`` takes the first queued unit whose shared prefix is ``warmed_prefix``, else the
      first queued unit, and counts an attempt;
    * ``attempt_failed`` puts the unit back at the head of the queue while ``policy`` allows another attempt,
      else records it as failed; ``succeeded`` records its result;
    * ``results()`` yields the recorded results in the order they were recorded, each once.

    Unit ids must be unique (``ValueError`` otherwise). Retries, failures, finished units and their tokens are
    added to ``tally``.
    """

    def __init__(self, units: Iterable[WorkUnit], policy: RetryPolicy, tally: StatsTally) -> None:
        todo = list(units)
        seen: set[str] = set()
        duplicates = sorted({u.unit_id for u in todo if u.unit_id in seen or seen.add(u.unit_id)})
        if duplicates:
            raise ValueError(f"unit ids must be unique within one run, got duplicates {duplicates}")
        self._policy = policy
        self._tally = tally
        self._pending: deque[WorkUnit] = deque(todo)
        self._attempts = {unit.unit_id: 0 for unit in todo}
        self._not_yielded = set(self._attempts)
        self._results: deque[UnitResult] = deque()

    def __len__(self) -> int:
        """How many units the run has."""
        return len(self._attempts)

    @property
    def has_pending(self) -> bool:
        """Some unit waits to be handed out."""
        return bool(self._pending)

    @property
    def all_yielded(self) -> bool:
        """Every unit's result was yielded by ``results()``."""
        return not self._not_yielded

    def not_yielded(self) -> list[str]:
        """The ids of the units whose result was not yielded yet, sorted."""
        return sorted(self._not_yielded)

    def attempts(self, unit_id: str) -> int:
        return self._attempts[unit_id]

    def hand_out(self, warmed_prefix: tuple[int, ...] | None) -> WorkUnit:
        """The next unit for an actor that has warmed ``warmed_prefix`` (see the class docstring)."""
        if not self._pending:
            raise IndexError("no unit is queued")
        unit = self._take(warmed_prefix)
        self._attempts[unit.unit_id] += 1
        return unit

    def succeeded(
        self, unit: WorkUnit, result: ScoreResult | GenerateResult, actor: str, *, extra_attempts: int = 0
    ) -> None:
        """``actor`` computed ``unit``; ``extra_attempts`` counts runs the caller saw beyond those handed out
        (Ray re-running the unit on a restarted actor)."""
        stats = result.stats
        self._tally.add(
            units_done=1,
            prompt_tokens=stats.prompt_tokens,
            computed_tokens=stats.computed_tokens,
            cached_tokens=stats.cached_tokens,
        )
        attempts = self._attempts[unit.unit_id] + extra_attempts
        self._results.append(UnitResult(unit.unit_id, True, result, None, attempts, actor))

    def attempt_failed(self, unit: WorkUnit, actor: str, error: str, cause: BaseException | None = None) -> None:
        """The latest attempt of ``unit`` on ``actor`` failed with ``error`` (one line); ``cause`` is the engine's
        exception, ``None`` when the actor was lost."""
        attempt = self._attempts[unit.unit_id]
        if self._policy.retries(attempt, cause):
            self._tally.add(retries=1)
            logger.warning(
                "unit %s: attempt %d/%d on %s failed, re-queued: %s",
                unit.unit_id,
                attempt,
                self._policy.max_attempts,
                actor,
                error,
            )
            self._pending.appendleft(unit)
            return
        self._tally.add(units_failed=1)
        logger.error("unit %s failed after %d attempt(s), last on %s: %s", unit.unit_id, attempt, actor, error)
        self._results.append(UnitResult(unit.unit_id, False, None, error, attempt, actor))

    def results(self) -> Iterator[UnitResult]:
        """Yield the results recorded so far and not yet yielded; a unit counts as yielded as it is handed over."""
        while self._results:
            result = self._results.popleft()
            self._not_yielded.discard(result.unit_id)
            yield result

    def _take(self, warmed_prefix: tuple[int, ...] | None) -> WorkUnit:
        if warmed_prefix is not None:
            for index, unit in enumerate(self._pending):
                if unit.tree.prefix_ids == warmed_prefix:
                    del self._pending[index]
                    return unit
        return self._pending.popleft()


__all__ = ["RetryPolicy", "UnitQueue"]
