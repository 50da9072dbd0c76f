"""Spread work units over N engine actors with a dynamic queue, yielding results as they finish.

Ray must already be initialised by the caller (``ray.init(...)`` or a cluster address).

Guarantees of ``Dispatcher.run``:
* every unit is yielded exactly once, as a ``UnitResult`` (ok, or failed with its error), in order of
  completion, so the caller can persist each at once;
* each actor holds one unit at a time; an idle actor takes the next queued unit, preferring one whose
  shared prefix it has already warmed; a prefix is warmed once per actor (again after a restart);
* a unit whose actor died (or became unreachable) is re-queued on the first free live actor, and the
  death is counted and logged; an engine error is retried until the unit has had ``max_attempts``
  attempts (a ``ContextLengthError`` is not retried), then the unit is yielded as failed;
* a unit whose engine died inside a live actor (``EngineDeadError``: see ``workers.actor``) is handled like a
  unit whose actor died: the attempt counts, the unit is re-queued, and the actor takes no unit until a
  ``load()`` probe has built its new engine (if that fails, the actor leaves the pool). So a death costs one
  attempt of the unit in flight, never the attempts of the units after it, and no unit is sent more than
  ``max_attempts`` times however often engines die;
* an actor that died for good, or is not back within ``recovery_timeout_s``, leaves the pool; if none
  is left, ``NoLiveActorsError`` is raised after everything that finished was yielded, naming the
  units not yielded;
* an actor whose node died is restarted by Ray wherever it fits (up to ``ActorOptions.max_restarts``);
  when no node has room it waits, and rejoins the pool once a node that offers its resources is back.
  A pool that fills the cluster (``num_actors=None``) also grows while it runs, whenever the cluster has
  room for more actors and none is recovering. (A node that joins before a death elsewhere is noticed can
  go to a new actor rather than the restarting one, which then leaves after ``recovery_timeout_s``: the
  pool keeps its size.)

The parts: ``workers.pool.ActorPool`` keeps the actors (start, place, grow, recover, kill), each in a
``workers.slots.Slot`` state machine; ``workers.unit_queue.UnitQueue`` decides which unit goes next, whether a
failed attempt is retried, and collects the results. This module is the run loop between them: it sends
units and probes over Ray, waits for the first answer, and routes it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError

from workers.actor import ActorCounters, EngineFactory, RunReply
from workers.dispatch_stats import DispatchStats, StatsTally
from workers.errors import EngineDeadError, NoLiveActorsError, PlacementError, WorkerError
from workers.placement import ActorOptions
from workers.pool import ActorPool, describe_error
from workers.slots import Slot
from workers.spec import EngineSpec
from workers.unit_queue import RetryPolicy, UnitQueue
from workers.units import UnitResult, WorkUnit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _RunCall:
    unit: WorkUnit
    slot: Slot
    warm_ref: Any | None  # the warm call submitted just before this unit, if any


@dataclass(frozen=True)
class _Probe:
    slot: Slot


class Dispatcher:
    """A pool of ``num_actors`` engine actors built from ``spec``; ``run`` spreads units over it.

    ``num_actors=None`` fills the cluster: as many actors as its nodes can place now (``cluster_capacity``),
    and more while runs go on when nodes join (checked every ``grow_interval_s``). The constructor starts
    the actors and waits up to ``placement_timeout_s`` for Ray to place them (``PlacementError`` names the
    resources no node offers; when filling the cluster, only if not even one actor was placed, the others
    being let go), then up to ``load_timeout_s`` (``None``:
    no limit) for their engines to load (``EngineError`` names the actor and the cause). An actor that
    failed and is not back with its engine within ``recovery_timeout_s`` (e.g. Ray cannot place its
    restart after a node died) is removed from the pool, so a run never waits on it forever.
    ``close()``, or leaving the ``with`` block, shuts the engines down and kills the actors.
    ``engine_factory`` replaces ``create_engine`` inside the actors (it must be picklable).
    """

    def __init__(
        self,
        spec: EngineSpec,
        num_actors: int | None,
        *,
        actor_options: ActorOptions | None = None,
        max_attempts: int = 3,
        placement_timeout_s: float = 60.0,
        load_timeout_s: float | None = None,
        recovery_timeout_s: float = 600.0,
        probe_interval_s: float = 1.0,
        grow_interval_s: float = 10.0,
        close_timeout_s: float = 10.0,
        engine_factory: EngineFactory | None = None,
    ) -> None:
        self._policy = RetryPolicy(max_attempts)
        self._tally = StatsTally()
        self._close_timeout_s = close_timeout_s
        self._running = False
        self._closed = False
        self._pool = ActorPool(
            spec,
            num_actors,
            actor_options or ActorOptions(),
            self._tally,
            placement_timeout_s=placement_timeout_s,
            load_timeout_s=load_timeout_s,
            recovery_timeout_s=recovery_timeout_s,
            probe_interval_s=probe_interval_s,
            grow_interval_s=grow_interval_s,
            engine_factory=engine_factory,
        )

    # -- public -----------------------------------------------------------------------------------

    @property
    def stats(self) -> DispatchStats:
        return self._tally.stats

    @property
    def actors(self) -> dict[str, Any]:
        """Ray handles of the actors still in the pool, by name."""
        return {slot.name: slot.handle for slot in self._pool.live_slots()}

    def actor_counters(self) -> dict[str, ActorCounters]:
        """Each live actor's own counters (waits for the unit an actor may be running).

        Raises ``ray.exceptions.ActorUnavailableError`` while an actor is restarting.
        """
        return self._pool.counters()

    def run(self, units: Iterable[WorkUnit]) -> Iterator[UnitResult]:
        """Yield one ``UnitResult`` per unit, in order of completion (see the module docstring).

        While the caller handles a result, the actors already run the next units. Closing the iterator
        early sends nothing more: the units already sent (at most one per actor) run to their end and
        their results are discarded. ``close()`` kills the actors.
        """
        if self._closed:
            raise WorkerError("this Dispatcher is closed; create a new one")
        if self._running:
            raise WorkerError("Dispatcher.run is already in progress; finish or close that iterator first")
        return self._drive(UnitQueue(units, self._policy, self._tally))

    def close(self) -> None:
        """Close every engine (waiting up to ``close_timeout_s``), then kill every actor.

        ``ray.kill`` is asynchronous: the actor processes end within moments after this returns.
        """
        if self._closed:
            return
        self._closed = True
        killed = self._pool.close(self._close_timeout_s)
        logger.info("dispatcher closed: %d engine actor(s) killed; %s", killed, self.stats)

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        if exc_type is None:
            self.close()
        else:  # interrupted (e.g. ``ray job stop``): no time to let the engines shut down one by one
            self._closed = True
            self._pool.kill_all()

    # -- the run loop -----------------------------------------------------------------------------

    def _drive(self, queue: UnitQueue) -> Iterator[UnitResult]:
        if self._running:
            raise WorkerError("Dispatcher.run is already in progress; finish or close that iterator first")
        self._running = True
        inflight: dict[Any, _RunCall | _Probe] = {}
        before = self.stats
        started = time.monotonic()
        logger.info("dispatching %d unit(s) over %d actor(s)", len(queue), len(self.actors))
        try:
            while not queue.all_yielded:
                if self._closed:
                    raise WorkerError("this Dispatcher was closed while a run was in progress")
                self._assign(queue, inflight)
                if not inflight:
                    delay = self._pool.next_check_in(time.monotonic())
                    if delay is None:
                        raise NoLiveActorsError(
                            f"no engine actor is left ({self.stats.actors_lost} removed: dead for good, or not "
                            f"back within recovery_timeout_s) with {len(queue.not_yielded())} unit(s) not done: "
                            f"{queue.not_yielded()}; check the actor logs and the cluster, then run them again"
                        )
                    time.sleep(delay)  # until a probe or a recovery timeout is due
                    continue
                timeout = self._pool.next_check_in(time.monotonic())
                ready, _ = ray.wait(list(inflight), num_returns=1, timeout=timeout)
                for ref in ready:
                    call = inflight.pop(ref)
                    if isinstance(call, _Probe):
                        self._pool.finish_probe(ref, call.slot)
                    else:
                        self._finish_run(ref, call, queue)
                self._assign(queue, inflight)  # keep the actors busy while the caller persists
                yield from queue.results()
        finally:
            self._running = False
            self._abandon(inflight)
            delta = self.stats - before
            not_done = len(queue.not_yielded())
            logger.info(
                "run ended after %.1f s: %d ok, %d failed, %d retried, %d actor death(s); tokens computed %d, "
                "cached %d%s",
                time.monotonic() - started,
                delta.units_done,
                delta.units_failed,
                delta.retries,
                delta.actor_deaths,
                delta.computed_tokens,
                delta.cached_tokens,
                f"; stopped early with {not_done} unit(s) not done" if not_done else "",
            )

    def _assign(self, queue: UnitQueue, inflight: dict[Any, _RunCall | _Probe]) -> None:
        """Drop actors whose recovery timed out, grow the pool, probe the actors whose probe is due, and give
        every free actor a unit."""
        now = time.monotonic()
        self._pool.expire_recoveries(now)
        for ref in [ref for ref, call in inflight.items() if isinstance(call, _Probe) and not call.slot.is_live]:
            del inflight[ref]
        if queue.has_pending:
            inflight.update((ref, _Probe(slot)) for ref, slot in self._pool.grow(now).items())
        for slot in self._pool.slots:
            if slot.probe_due(now):
                inflight[self._pool.probe(slot)] = _Probe(slot)
            elif slot.can_take_unit and queue.has_pending:
                unit = queue.hand_out(slot.warmed_prefix)
                warm_ref = None
                if slot.start_unit(unit.tree.prefix_ids):
                    warm_ref = slot.handle.warm.remote(unit.tree.prefix_ids)
                    self._tally.add(prefix_warms=1)
                inflight[slot.handle.run.remote(unit)] = _RunCall(unit, slot, warm_ref)

    def _finish_run(self, ref: Any, call: _RunCall, queue: UnitQueue) -> None:
        """Hand the answer of a unit to the queue: its result, or a failed attempt (retried or not)."""
        slot, unit = call.slot, call.unit
        try:
            reply: RunReply = ray.get(ref)
        except RayTaskError as err:
            if isinstance(err.cause, EngineDeadError):
                self._pool.engine_died(slot, err)
            else:
                slot.finish_unit()
            queue.attempt_failed(unit, slot.name, describe_error(err), err.cause)
            return
        except RayError as err:  # RayActorError, or the actor's process lost in another way
            self._pool.lose(slot, err)
            queue.attempt_failed(unit, slot.name, f"actor {slot.name} died: {describe_error(err)}")
            return
        slot.finish_unit()
        self._check_warm(call)
        rerun = 0
        if reply.incarnation != slot.incarnation:
            rerun = self._pool.note_restart(slot, reply.incarnation, unit.unit_id)
        queue.succeeded(unit, reply.result, slot.name, extra_attempts=rerun)

    def _check_warm(self, call: _RunCall) -> None:
        """Log a failed warm call (it never changes results) and warm again next time."""
        if call.warm_ref is None:
            return
        try:
            ray.get(call.warm_ref)  # done: the actor ran it before the unit
        except RayError as err:
            call.slot.forget_warm()
            if isinstance(err, RayTaskError) and isinstance(err.cause, EngineDeadError):
                # the unit after it ran on the engine the actor built again; only the death is left to count
                self._tally.add(engine_deaths=1)
            logger.warning("actor %s could not warm the prefix: %s", call.slot.name, describe_error(err))

    @staticmethod
    def _abandon(inflight: Mapping[Any, _RunCall | _Probe]) -> None:
        """Forget the calls of a run that stopped early; an actor finishes the unit it was sent.

        ``ray.cancel`` is not used: cancelling a call that was not yet pushed to an actor leaves a gap
        in the actor's ordered queue, which then stalls its later calls for 30 s and fails them.
        """
        runs = 0
        for call in inflight.values():
            if not call.slot.is_live:  # killed meanwhile (the dispatcher was closed)
                continue
            if isinstance(call, _RunCall):
                call.slot.abandon_unit()  # its next unit queues behind the one it is finishing
                runs += 1
            else:
                call.slot.abandon_probe()
        if runs:
            logger.warning("run closed early: %d unit(s) already sent run to their end, their results discarded", runs)


__all__ = ["DispatchStats", "Dispatcher", "NoLiveActorsError", "PlacementError"]
