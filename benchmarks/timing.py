"""Wrappers that time every call made through an object, from outside it (for B3's driver-overhead split)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any


class Timings:
    """Seconds spent per named activity, summed."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] += seconds
        self.calls[name] += 1


class TimedProxy:
    """Forwards every attribute to ``target``; each method call's wall time is added to ``timings[label]``."""

    def __init__(self, target: Any, timings: Timings, label: str) -> None:
        self._target, self._timings, self._label = target, timings, label

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value):
            return value

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                self._timings.add(f"{self._label}.{name}", time.perf_counter() - start)

        return timed


class TimedDispatcher:
    """A dispatcher whose ``run`` iterator records the time the caller waits for each next result."""

    def __init__(self, dispatcher: Any, timings: Timings) -> None:
        self._dispatcher, self._timings = dispatcher, timings

    def run(self, units):
        start = time.perf_counter()
        results = self._dispatcher.run(units)
        self._timings.add("dispatcher.run (start)", time.perf_counter() - start)
        return _timed_iteration(results, self._timings)


def _timed_iteration(results: Iterator, timings: Timings) -> Iterator:
    try:
        while True:
            start = time.perf_counter()
            try:
                item = next(results)
            except StopIteration:
                timings.add("dispatcher: waiting for results", time.perf_counter() - start)
                return
            timings.add("dispatcher: waiting for results", time.perf_counter() - start)
            yield item
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()
