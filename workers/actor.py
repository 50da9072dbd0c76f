"""The Ray actor that hosts one engine.

``EngineActor`` is a plain class; ``workers.placement.ActorOptions.remote_class()`` turns it into a Ray actor
class with the configured resources. The engine is built inside the actor process from an ``EngineSpec`` (so
nothing heavy is pickled), lazily on the first call that needs it: a restarted actor rebuilds it by
itself.

A dead engine (``workers.errors.EngineDeadError``, or ``torch.OutOfMemoryError`` from any engine) is answered here,
in one place: the actor discards the engine (closing it, and releasing what it held on the device), counts the
death, and raises ``EngineDeadError`` for the call; its next call builds a new engine from the spec. So a death
costs the unit in flight one attempt, never the attempts of the units after it, and the actor process lives on.
The dispatcher probes such an actor with ``load()`` (the rebuild) before it sends it another unit.

Which layer retries: the dispatcher. ``max_task_retries`` defaults to 0, so a unit lost with its actor
comes back to the dispatcher as an error, is counted, and is re-queued on whichever actor is free
first (the restarted one has to reload its model). If a caller sets ``max_task_retries > 0``, Ray
re-runs the lost call on the restarted actor by itself; every reply carries the actor's
*incarnation* (a new one per process), so the dispatcher still sees and reports the restart.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import torch

from workers.engine import Engine
from workers.errors import EngineDeadError
from workers.spec import EngineSpec
from workers.tree import GenerateResult, ScoreResult
from workers.units import WorkUnit

logger = logging.getLogger(__name__)

EngineFactory = Callable[[EngineSpec], Engine]
_T = TypeVar("_T")

ENGINE_DEATHS: tuple[type[BaseException], ...] = (EngineDeadError, torch.OutOfMemoryError)
"""Errors after which an actor discards its engine and builds a new one: the engine's own death, and a device out
of memory (memory the engine holds is released only by dropping it)."""


@dataclass(frozen=True)
class RunReply:
    """What ``EngineActor.run`` returns: the engine's result and the incarnation that computed it."""

    result: ScoreResult | GenerateResult
    incarnation: str


@dataclass(frozen=True)
class ActorCounters:
    """What one actor process has done since it started (a restart starts from zero)."""

    incarnation: str
    pid: int
    engine_loads: int
    engine_deaths: int
    warm_calls: int
    units_run: int
    torch_threads: int


class EngineActor:
    """Hosts one engine built from ``spec`` (by ``engine_factory``, default ``create_engine``).

    ``threads`` sets torch's thread count in the actor process before any engine is built.

    Contract (calls run one at a time, in the order one caller submitted them):
    * ``ready()`` returns at once with the incarnation id: the actor was placed and started.
    * ``load()`` builds the engine if it is not built yet and returns the incarnation id; engine
      errors propagate.
    * ``warm(prefix_ids)`` calls ``Engine.warm``; ``run(unit)`` scores or generates and returns a
      ``RunReply``. Both build the engine first if needed.
    * ``shutdown()`` closes the engine (its background processes too); the actor stays usable and
      would rebuild the engine on the next call.
    * When ``warm`` or ``run`` meets an error of ``ENGINE_DEATHS``, the engine is discarded (closed, best effort)
      and the call raises ``EngineDeadError`` naming the cause; the next call builds a new engine. Engine
      deaths are counted in ``counters()``; the call is not retried here (the dispatcher counts attempts).
    """

    def __init__(
        self, spec: EngineSpec, engine_factory: EngineFactory | None = None, *, threads: int | None = None
    ) -> None:
        if threads is not None:
            torch.set_num_threads(threads)
        self._spec = spec
        self._factory = engine_factory
        self._engine: Engine | None = None
        self._incarnation = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._engine_loads = 0
        self._engine_deaths = 0
        self._warm_calls = 0
        self._units_run = 0

    def ready(self) -> str:
        return self._incarnation

    def pid(self) -> int:
        return os.getpid()

    def load(self) -> str:
        self._loaded_engine()
        return self._incarnation

    def warm(self, prefix_ids: tuple[int, ...]) -> None:
        self._call("warming a prefix", lambda engine: engine.warm(tuple(prefix_ids)))
        self._warm_calls += 1

    def run(self, unit: WorkUnit) -> RunReply:
        result = self._call(f"running unit {unit.unit_id}", lambda engine: _compute(engine, unit))
        self._units_run += 1
        return RunReply(result=result, incarnation=self._incarnation)

    def counters(self) -> ActorCounters:
        return ActorCounters(
            incarnation=self._incarnation,
            pid=os.getpid(),
            engine_loads=self._engine_loads,
            engine_deaths=self._engine_deaths,
            warm_calls=self._warm_calls,
            units_run=self._units_run,
            torch_threads=torch.get_num_threads(),
        )

    def shutdown(self) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            engine.close()

    def _loaded_engine(self) -> Engine:
        if self._engine is None:
            if self._engine_loads:  # free what an engine discarded or shut down still holds before the next one
                gc.collect()
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
            if self._factory is None:
                from workers.engines import create_engine

                self._engine = create_engine(self._spec)
            else:
                self._engine = self._factory(self._spec)
            self._engine_loads += 1
            logger.info("%s: built %s engine for %s", self._incarnation, self._spec.kind, self._spec.model)
        return self._engine

    def _call(self, what: str, call: Callable[[Engine], _T]) -> _T:
        """``call`` on the engine; an error of ``ENGINE_DEATHS`` discards the engine and raises ``EngineDeadError``."""
        engine = self._loaded_engine()
        try:
            return call(engine)
        except ENGINE_DEATHS as err:
            self._discard(engine)
            raise EngineDeadError(
                f"the {self._spec.kind} engine of actor {self._incarnation} died while {what} "
                f"({type(err).__name__}: {err}); it was discarded, and the actor's next call builds a new one"
            ) from err

    def _discard(self, engine: Engine) -> None:
        self._engine = None
        self._engine_deaths += 1
        logger.warning("%s: %s engine died; discarding it", self._incarnation, self._spec.kind)
        try:
            engine.close()
        except Exception:  # a dead engine may not close cleanly; what is left of it is dropped either way
            logger.warning("%s: closing the dead engine failed", self._incarnation, exc_info=True)


def _compute(engine: Engine, unit: WorkUnit) -> ScoreResult | GenerateResult:
    if unit.kind == "score":
        return engine.score(unit.tree)
    assert unit.params is not None  # WorkUnit guarantees it
    return engine.generate(unit.tree, unit.params)


__all__ = ["ENGINE_DEATHS", "ActorCounters", "EngineActor", "EngineFactory", "RunReply"]
