"""What a dispatcher counts: ``DispatchStats`` (a frozen value) and the ``StatsTally`` its parts add to."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class DispatchStats:
    """Totals over a dispatcher's lifetime (take two snapshots and subtract for one ``run``).

    ``retries`` counts re-dispatches after a failed attempt; ``actor_deaths`` counts attempts lost
    because their actor died or became unreachable, and restarts seen in replies (Ray's own retries);
    ``engine_deaths`` counts engines found dead inside a live actor (each then rebuilt by a ``load()`` probe);
    ``actors_lost`` counts actors removed from the pool for good. Token totals sum the engines' call
    stats of successful units (warming is not included).
    """

    units_done: int = 0
    units_failed: int = 0
    retries: int = 0
    actor_deaths: int = 0
    engine_deaths: int = 0
    actors_lost: int = 0
    prefix_warms: int = 0
    prompt_tokens: int = 0
    computed_tokens: int = 0
    cached_tokens: int = 0

    def __sub__(self, other: DispatchStats) -> DispatchStats:
        return DispatchStats(**{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)})


class StatsTally:
    """The running totals one dispatcher's pool, queue and run loop add to; ``stats`` is a snapshot."""

    def __init__(self) -> None:
        self._stats = DispatchStats()

    @property
    def stats(self) -> DispatchStats:
        return self._stats

    def add(self, **increments: int) -> None:
        """Add to the named ``DispatchStats`` fields."""
        self._stats = replace(self._stats, **{k: getattr(self._stats, k) + v for k, v in increments.items()})


__all__ = ["DispatchStats", "StatsTally"]
