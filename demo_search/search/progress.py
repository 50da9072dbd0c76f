"""How the driver reports progress: the CLI renders it with rich on a terminal and as log lines off one
(:class:`LoggedProgress`); tests record it."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

logger = logging.getLogger(__name__)


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


@dataclass
class LoggedProgress:
    """Progress as log lines, for output that is not a terminal (a pipe, a file, a Ray Job's log).

    During each round of units (a ``step_started``) it logs, at INFO on this module's logger, one line after every
    ``every_units`` units (default: a tenth of the round's units, at least one), or after the first unit done
    ``every_s`` seconds after the last line, and always after the round's last unit::

        step 2: 12/47 units (1 failed); tokens computed 10,204 / from cache 33,580 (77% cached); elapsed 41 s,
        ETA 2 min 00 s   (on one line)

    Tokens count this round's units. ``clock`` gives seconds (monotonic).
    """

    every_units: int | None = None
    every_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _label: str = field(default="", init=False)
    _step: int | None = field(default=None, init=False)
    _round: int = field(default=1, init=False)
    _total: int = field(default=0, init=False)
    _done: int = field(default=0, init=False)
    _failed: int = field(default=0, init=False)
    _computed: int = field(default=0, init=False)
    _cached: int = field(default=0, init=False)
    _started_at: float = field(default=0.0, init=False)
    _logged_units: int = field(default=0, init=False)
    _logged_at: float = field(default=0.0, init=False)

    def step_started(self, step: int, units: int, pairs: int, stored: int) -> None:
        self._round = self._round + 1 if step == self._step else 1
        self._step = step
        name = "base set" if step == 0 else f"step {step}"
        self._label = name if self._round == 1 else f"{name}, round {self._round}"
        self._total, self._done, self._failed, self._computed, self._cached = units, 0, 0, 0, 0
        self._started_at = self._logged_at = self.clock()
        self._logged_units = 0

    def unit_done(self, computed_tokens: int, cached_tokens: int, ok: bool) -> None:
        self._done += 1
        self._failed += not ok
        self._computed += computed_tokens
        self._cached += cached_tokens
        now = self.clock()
        every = self.every_units or max(1, math.ceil(self._total / 10))
        due = self._done - self._logged_units >= every or now - self._logged_at >= self.every_s
        if due or self._done >= self._total:
            self._logged_units, self._logged_at = self._done, now
            logger.info("%s", self.line(now))

    def step_finished(self, step: int, summary: str) -> None:
        """The driver logs the step's summary line itself."""

    def line(self, now: float) -> str:
        """The progress line of the current round at time ``now``."""
        failed = f" ({self._failed} failed)" if self._failed else ""
        tokens = self._computed + self._cached
        share = f" ({self._cached / tokens:.0%} cached)" if tokens else ""
        elapsed = now - self._started_at
        left = max(self._total - self._done, 0)
        eta = format_duration(elapsed / self._done * left) if self._done else "unknown"
        return (
            f"{self._label}: {self._done}/{self._total} units{failed}; tokens computed {self._computed:,} / from "
            f"cache {self._cached:,}{share}; elapsed {format_duration(elapsed)}, ETA {eta}"
        )


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
