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
* an actor that died for good, or is not back within ``recovery_timeout_s``, leaves the pool; if none
  is left, ``NoLiveActorsError`` is raised after everything that finished was yielded, naming the
  units not yielded;
* an actor whose node died is restarted by Ray wherever it fits (up to ``ActorOptions.max_restarts``);
  when no node has room it waits, and rejoins the pool once a node that offers its resources is back.
  A pool that fills the cluster (``num_actors=None``) also grows while it runs, whenever the cluster has
  room for more actors and none is recovering. (A node that joins before a death elsewhere is noticed can
  go to a new actor rather than the restarting one, which then leaves after ``recovery_timeout_s``: the
  pool keeps its size.)
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

import ray
from ray.exceptions import ActorDiedError, RayActorError, RayError, RayTaskError

from workers.actor import ActorCounters, ActorOptions, EngineFactory, RunReply, explain_unplaceable
from workers.errors import ContextLengthError, EngineError, WorkerError
from workers.placement import cluster_capacity, release, reserve
from workers.spec import EngineSpec
from workers.units import UnitResult, WorkUnit

logger = logging.getLogger(__name__)


class PlacementError(WorkerError):
    """Engine actors could not be placed on the cluster within the placement timeout."""


class NoLiveActorsError(WorkerError):
    """Every engine actor of a dispatcher was removed from its pool while units were still to do."""


@dataclass(frozen=True)
class DispatchStats:
    """Totals over a dispatcher's lifetime (take two snapshots and subtract for one ``run``).

    ``retries`` counts re-dispatches after a failed attempt; ``actor_deaths`` counts attempts lost
    because their actor died or became unreachable, and restarts seen in replies (Ray's own retries);
    ``actors_lost`` counts actors removed from the pool for good. Token totals sum the engines' call
    stats of successful units (warming is not included).
    """

    units_done: int = 0
    units_failed: int = 0
    retries: int = 0
    actor_deaths: int = 0
    actors_lost: int = 0
    prefix_warms: int = 0
    prompt_tokens: int = 0
    computed_tokens: int = 0
    cached_tokens: int = 0

    def __sub__(self, other: DispatchStats) -> DispatchStats:
        return DispatchStats(**{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)})


SlotState = Literal["idle", "busy", "probing", "waiting", "gone"]


@dataclass
class _Slot:
    """The dispatcher's view of one actor (mutable bookkeeping, private).

    States: ``idle`` (free for a unit), ``busy`` (one unit in flight), ``waiting`` (an attempt was lost
    with the actor; a probe is due at ``probe_after``), ``probing`` (a ``load()`` probe in flight: it
    returns once the restarted actor has its engine again), ``gone`` (removed from the pool). An actor
    still waiting or probing ``recovery_timeout_s`` after it failed is removed.
    """

    name: str
    handle: Any
    group: Any = None  # the actor's placement group (tensor parallelism), released with the actor
    incarnation: str = ""
    state: SlotState = "idle"
    warmed_prefix: tuple[int, ...] | None = None
    probe_after: float = 0.0
    failed_at: float = 0.0


@dataclass(frozen=True)
class _RunCall:
    unit: WorkUnit
    slot: _Slot
    warm_ref: Any | None  # the warm call submitted just before this unit, if any


@dataclass(frozen=True)
class _Probe:
    slot: _Slot


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
        if num_actors is not None and num_actors < 1:
            raise ValueError(f"num_actors must be >= 1 (or None: fill the cluster), got {num_actors}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        for name, value in (("placement_timeout_s", placement_timeout_s), ("recovery_timeout_s", recovery_timeout_s)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        if not ray.is_initialized():
            raise WorkerError(
                "Ray is not initialised: call ray.init(...) (or ray.init(address=...)) before creating a Dispatcher"
            )
        self._spec = spec
        self._options = actor_options or ActorOptions()
        self._max_attempts = max_attempts
        self._recovery_timeout_s = recovery_timeout_s
        self._probe_interval_s = probe_interval_s
        self._close_timeout_s = close_timeout_s
        self._engine_factory = engine_factory
        self._fill_cluster = num_actors is None
        self._grow_interval_s = grow_interval_s
        self._next_grow_check = time.monotonic() + grow_interval_s
        self._stats = DispatchStats()
        self._running = False
        self._closed = False
        if num_actors is None:
            num_actors = cluster_capacity(self._options)
            if num_actors == 0:
                demand = self._options.demand()
                raise PlacementError(
                    f"the cluster has no room for an engine actor asking for {_fmt(demand)}: "
                    f"{explain_unplaceable(demand, ray.nodes())}. Add nodes that offer them, or lower the "
                    "per-actor resources"
                )
            logger.info("filling the cluster: room for %d engine actor(s)", num_actors)
        self._slots: list[_Slot] = []
        self._actors_started = 0  # names actors engine-0, engine-1, ... in start order, never twice
        try:
            for _ in range(num_actors):
                self._slots.append(self._start_actor())
            self._await_placement(placement_timeout_s)
            self._await_engines(load_timeout_s)
        except BaseException:
            self._kill_all()
            raise

    # -- public -----------------------------------------------------------------------------------

    @property
    def stats(self) -> DispatchStats:
        return self._stats

    @property
    def actors(self) -> dict[str, Any]:
        """Ray handles of the actors still in the pool, by name."""
        return {slot.name: slot.handle for slot in self._slots if slot.state != "gone"}

    def actor_counters(self) -> dict[str, ActorCounters]:
        """Each live actor's own counters (waits for the unit an actor may be running).

        Raises ``ray.exceptions.ActorUnavailableError`` while an actor is restarting.
        """
        live = [slot for slot in self._slots if slot.state != "gone"]
        return dict(zip([s.name for s in live], ray.get([s.handle.counters.remote() for s in live]), strict=True))

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
        todo = list(units)
        seen: set[str] = set()
        duplicates = sorted({u.unit_id for u in todo if u.unit_id in seen or seen.add(u.unit_id)})
        if duplicates:
            raise ValueError(f"unit ids must be unique within one run, got duplicates {duplicates}")
        return self._drive(todo)

    def close(self) -> None:
        """Close every engine (waiting up to ``close_timeout_s``), then kill every actor.

        ``ray.kill`` is asynchronous: the actor processes end within moments after this returns.
        """
        if self._closed:
            return
        self._closed = True
        live = [slot for slot in self._slots if slot.state != "gone"]
        refs = [slot.handle.shutdown.remote() for slot in live]
        if refs:
            ray.wait(refs, num_returns=len(refs), timeout=self._close_timeout_s)
        self._kill_all()
        logger.info("dispatcher closed: %d engine actor(s) killed; %s", len(live), self._stats)

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        if exc_type is None:
            self.close()
        else:  # interrupted (e.g. ``ray job stop``): no time to let the engines shut down one by one
            self._closed = True
            self._kill_all()

    # -- actors -----------------------------------------------------------------------------------

    def _start_actor(self) -> _Slot:
        """A new slot whose actor Ray places asynchronously (in its own placement group if it needs one)."""
        group = reserve(self._options)
        handle = self._options.remote_class(group).remote(
            self._spec, self._engine_factory, threads=self._options.threads()
        )
        self._actors_started += 1
        return _Slot(name=f"engine-{self._actors_started - 1}", handle=handle, group=group)

    def _grow(self, inflight: dict) -> None:
        """When filling the cluster: start actors for the room the cluster has now (a node joined, or came
        back), unless an actor is recovering (its restart may be about to take that room)."""
        now = time.monotonic()
        if not self._fill_cluster or now < self._next_grow_check:
            return
        self._next_grow_check = now + self._grow_interval_s
        if any(slot.state in ("waiting", "probing") for slot in self._slots):
            return
        for _ in range(cluster_capacity(self._options)):
            slot = self._start_actor()
            self._slots.append(slot)
            # A probe (``load()``) answers once the actor is placed and has its engine; until then, and at most
            # recovery_timeout_s, the slot counts as recovering.
            slot.state, slot.failed_at = "probing", now
            inflight[slot.handle.load.remote()] = _Probe(slot)
            logger.info("the cluster has room: engine actor %s joins the pool", slot.name)

    # -- start-up ---------------------------------------------------------------------------------

    def _await_placement(self, timeout_s: float) -> None:
        refs = {slot.handle.ready.remote(): slot for slot in self._slots}
        done, not_done = ray.wait(list(refs), num_returns=len(refs), timeout=timeout_s)
        if not_done and self._fill_cluster and done:
            logger.warning(
                "%d of %d engine actor(s) were not placed within %g s; going on with %d",
                len(not_done), len(refs), timeout_s, len(done),
            )
            for ref in not_done:
                self._kill(refs.pop(ref))
            self._slots = [slot for slot in self._slots if slot.state != "gone"]
            not_done = []
        if not_done:
            demand = self._options.demand()
            totals = ray.cluster_resources()
            available = ray.available_resources()
            raise PlacementError(
                f"{len(not_done)} of {len(refs)} engine actor(s) could not be placed within {timeout_s:g} s. "
                f"Each asks for {_fmt(demand)}: {explain_unplaceable(demand, ray.nodes())}. "
                f"Cluster total of those: {_fmt({k: totals.get(k, 0.0) for k in demand})}; "
                f"available now: {_fmt({k: available.get(k, 0.0) for k in demand})}. "
                "Lower the number of actors or the per-actor resources (ActorOptions), or add nodes that offer them."
            )
        for ref in done:
            slot = refs[ref]
            slot.incarnation = self._get_or_raise(ref, slot, "start")
        logger.info("%d engine actor(s) placed, each with %s", len(done), _fmt(self._options.demand()))

    def _await_engines(self, timeout_s: float | None) -> None:
        started = time.monotonic()
        refs = {slot.handle.load.remote(): slot for slot in self._slots}
        done, not_done = ray.wait(list(refs), num_returns=len(refs), timeout=timeout_s)
        for ref in done:
            slot = refs[ref]
            slot.incarnation = self._get_or_raise(ref, slot, "build its engine")
        if not_done:
            names = sorted(refs[ref].name for ref in not_done)
            raise EngineError(
                f"engine actor(s) {names} did not build the {self._spec.kind} engine for {self._spec.model!r} "
                f"within {timeout_s:g} s (load_timeout_s); raise it for large models"
            )
        logger.info(
            "%d %s engine(s) for %s loaded in %.1f s",
            len(refs),
            self._spec.kind,
            self._spec.model,
            time.monotonic() - started,
        )

    def _get_or_raise(self, ref: Any, slot: _Slot, what: str) -> str:
        try:
            return ray.get(ref)
        except RayError as err:
            raise EngineError(
                f"engine actor {slot.name} failed to {what} ({self._spec.kind} engine, model {self._spec.model!r}): "
                f"{_describe(err)}"
            ) from err

    # -- the queue --------------------------------------------------------------------------------

    def _drive(self, todo: list[WorkUnit]) -> Iterator[UnitResult]:
        if self._running:
            raise WorkerError("Dispatcher.run is already in progress; finish or close that iterator first")
        self._running = True
        pending: deque[WorkUnit] = deque(todo)
        attempts = {unit.unit_id: 0 for unit in todo}
        unfinished = set(attempts)
        inflight: dict[Any, _RunCall | _Probe] = {}
        before = self._stats
        started = time.monotonic()
        logger.info("dispatching %d unit(s) over %d actor(s)", len(todo), len(self.actors))
        try:
            while unfinished:
                self._assign(pending, attempts, inflight)
                if not inflight:
                    if not self._sleep_until_next_check():
                        raise NoLiveActorsError(
                            f"no engine actor is left ({self._stats.actors_lost} removed: dead for good, or not "
                            f"back within recovery_timeout_s) with {len(unfinished)} unit(s) not done: "
                            f"{sorted(unfinished)}; check the actor logs and the cluster, then run them again"
                        )
                    continue
                ready, _ = ray.wait(list(inflight), num_returns=1, timeout=self._next_check_in())
                outcomes = []
                for ref in ready:
                    call = inflight.pop(ref)
                    if isinstance(call, _Probe):
                        self._finish_probe(ref, call.slot)
                        continue
                    outcome = self._finish_run(ref, call, attempts[call.unit.unit_id])
                    if outcome is None:
                        pending.appendleft(call.unit)
                    else:
                        outcomes.append(outcome)
                self._assign(pending, attempts, inflight)  # keep the actors busy while the caller persists
                for outcome in outcomes:
                    unfinished.discard(outcome.unit_id)
                    yield outcome
        finally:
            self._running = False
            self._abandon(inflight)
            delta = self._stats - before
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
                f"; stopped early with {len(unfinished)} unit(s) not done" if unfinished else "",
            )

    def _assign(self, pending: deque[WorkUnit], attempts: dict[str, int], inflight: dict) -> None:
        now = time.monotonic()
        self._expire_recoveries(now, inflight)
        if pending:
            self._grow(inflight)
        for slot in self._slots:
            if slot.state == "waiting" and now >= slot.probe_after:
                inflight[slot.handle.load.remote()] = _Probe(slot)
                slot.state = "probing"
            elif slot.state == "idle" and pending:
                unit = _take(pending, slot.warmed_prefix)
                warm_ref = None
                if slot.warmed_prefix != unit.tree.prefix_ids:
                    warm_ref = slot.handle.warm.remote(unit.tree.prefix_ids)
                    slot.warmed_prefix = unit.tree.prefix_ids
                    self._bump(prefix_warms=1)
                inflight[slot.handle.run.remote(unit)] = _RunCall(unit, slot, warm_ref)
                attempts[unit.unit_id] += 1
                slot.state = "busy"

    def _finish_run(self, ref: Any, call: _RunCall, attempt: int) -> UnitResult | None:
        """The unit's ``UnitResult``, or ``None`` when it goes back to the queue."""
        slot, unit = call.slot, call.unit
        try:
            reply: RunReply = ray.get(ref)
        except RayTaskError as err:
            slot.state = "idle"
            retriable = not isinstance(err.cause, ContextLengthError)
            return self._retry_or_fail(unit, slot, attempt, _describe(err), retriable=retriable)
        except RayError as err:  # RayActorError, or the actor's process lost in another way
            self._lose_actor_attempt(slot, err)
            return self._retry_or_fail(unit, slot, attempt, f"actor {slot.name} died: {_describe(err)}")
        slot.state = "idle"
        self._check_warm(call)
        if reply.incarnation != slot.incarnation:
            attempt += self._note_restart(slot, unit, reply.incarnation)
        stats = reply.result.stats
        self._bump(
            units_done=1,
            prompt_tokens=stats.prompt_tokens,
            computed_tokens=stats.computed_tokens,
            cached_tokens=stats.cached_tokens,
        )
        return UnitResult(unit.unit_id, True, reply.result, None, attempt, slot.name)

    def _note_restart(self, slot: _Slot, unit: WorkUnit, incarnation: str) -> int:
        """A reply came from a new incarnation of the actor: count the death; 1 if Ray re-ran the unit.

        With ``max_task_retries == 0`` Ray re-runs nothing, so the actor restarted while idle. Otherwise
        Ray re-sent the unit to the restarted actor, which counts as one more attempt.
        """
        rerun = self._options.max_task_retries != 0
        logger.warning(
            "actor %s was restarted (%s -> %s)%s",
            slot.name,
            slot.incarnation,
            incarnation,
            f" and Ray re-ran unit {unit.unit_id} on it" if rerun else " while idle",
        )
        self._bump(actor_deaths=1, retries=int(rerun))
        slot.incarnation = incarnation
        slot.warmed_prefix = None
        return int(rerun)

    def _check_warm(self, call: _RunCall) -> None:
        """Log a failed warm call (it never changes results) and warm again next time."""
        if call.warm_ref is None:
            return
        try:
            ray.get(call.warm_ref)  # done: the actor ran it before the unit
        except RayError as err:
            call.slot.warmed_prefix = None
            logger.warning("actor %s could not warm the prefix: %s", call.slot.name, _describe(err))

    def _retry_or_fail(
        self, unit: WorkUnit, slot: _Slot, attempt: int, error: str, *, retriable: bool = True
    ) -> UnitResult | None:
        if retriable and attempt < self._max_attempts:
            self._bump(retries=1)
            logger.warning(
                "unit %s: attempt %d/%d on %s failed, re-queued: %s",
                unit.unit_id,
                attempt,
                self._max_attempts,
                slot.name,
                error,
            )
            return None
        self._bump(units_failed=1)
        logger.error("unit %s failed after %d attempt(s), last on %s: %s", unit.unit_id, attempt, slot.name, error)
        return UnitResult(unit.unit_id, False, None, error, attempt, slot.name)

    def _lose_actor_attempt(self, slot: _Slot, err: Exception) -> None:
        """The actor of an in-flight unit died or is unreachable: probe it before using it again."""
        self._bump(actor_deaths=1)
        slot.state = "waiting"
        slot.failed_at = slot.probe_after = time.monotonic()
        slot.warmed_prefix = None
        logger.warning("actor %s (%s) failed: %s", slot.name, slot.incarnation, _describe(err))

    def _finish_probe(self, ref: Any, slot: _Slot) -> None:
        if slot.state == "gone":  # removed while the probe was in flight
            return
        try:
            incarnation = ray.get(ref)
        except ActorDiedError as err:
            self._drop(slot, f"it is dead for good: {_describe(err)}")
        except RayTaskError as err:
            self._drop(slot, f"its engine failed to load after a restart: {_describe(err)}")
        except RayActorError as err:
            slot.state = "waiting"
            slot.probe_after = time.monotonic() + self._probe_interval_s
            logger.info("actor %s still unavailable (%s); probing again", slot.name, _describe(err))
        else:
            if slot.incarnation:
                logger.warning("actor %s is back as %s (was %s)", slot.name, incarnation, slot.incarnation)
            else:
                logger.info("actor %s joined the pool as %s", slot.name, incarnation)
            slot.incarnation = incarnation
            slot.state = "idle"

    def _drop(self, slot: _Slot, why: str) -> None:
        self._kill(slot)
        self._bump(actors_lost=1)
        logger.error("actor %s removed from the pool, %s; %d actor(s) left", slot.name, why, len(self.actors))

    def _expire_recoveries(self, now: float, inflight: dict) -> None:
        """Remove the actors that failed and did not come back within ``recovery_timeout_s``."""
        for slot in self._slots:
            if slot.state in ("waiting", "probing") and now - slot.failed_at >= self._recovery_timeout_s:
                self._drop(slot, f"it was not back within {self._recovery_timeout_s:g} s (recovery_timeout_s)")
        for ref in [ref for ref, call in inflight.items() if isinstance(call, _Probe) and call.slot.state == "gone"]:
            del inflight[ref]

    def _next_check_in(self) -> float | None:
        """Seconds until a probe or a recovery timeout is due; ``None`` if no actor is recovering."""
        due = [slot.probe_after for slot in self._slots if slot.state == "waiting"]
        due += [
            slot.failed_at + self._recovery_timeout_s for slot in self._slots if slot.state in ("waiting", "probing")
        ]
        return max(0.0, min(due) - time.monotonic()) if due else None

    def _sleep_until_next_check(self) -> bool:
        """Sleep until a probe or recovery timeout is due; ``False`` if no actor is recovering."""
        delay = self._next_check_in()
        if delay is None:
            return False
        time.sleep(delay)
        return True

    def _abandon(self, inflight: Mapping[Any, _RunCall | _Probe]) -> None:
        """Forget the calls of a run that stopped early; an actor finishes the unit it was sent.

        ``ray.cancel`` is not used: cancelling a call that was not yet pushed to an actor leaves a gap
        in the actor's ordered queue, which then stalls its later calls for 30 s and fails them.
        """
        runs = 0
        for call in inflight.values():
            if isinstance(call, _RunCall):
                call.slot.state = "idle"  # its next unit queues behind the one it is finishing
                runs += 1
            else:
                call.slot.state = "waiting"
        if runs:
            logger.warning("run closed early: %d unit(s) already sent run to their end, their results discarded", runs)

    def _kill_all(self) -> None:
        for slot in self._slots:
            self._kill(slot)

    @staticmethod
    def _kill(slot: _Slot) -> None:
        ray.kill(slot.handle, no_restart=True)
        release(slot.group)
        slot.group = None
        slot.state = "gone"

    def _bump(self, **increments: int) -> None:
        self._stats = replace(self._stats, **{k: getattr(self._stats, k) + v for k, v in increments.items()})


def _take(pending: deque[WorkUnit], warmed_prefix: tuple[int, ...] | None) -> WorkUnit:
    """The first queued unit whose prefix is already warmed on the actor, else the first unit."""
    if warmed_prefix is not None:
        for index, unit in enumerate(pending):
            if unit.tree.prefix_ids == warmed_prefix:
                del pending[index]
                return unit
    return pending.popleft()


def _describe(err: BaseException) -> str:
    """``Type: message`` of the error a task raised (unwrapping Ray's wrapper), on one line."""
    cause = err.cause if isinstance(err, RayTaskError) and err.cause is not None else err
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0] if text else ''}"


def _fmt(resources: Mapping[str, float]) -> str:
    return "{" + ", ".join(f"{name}: {amount:g}" for name, amount in resources.items()) + "}"


__all__ = ["DispatchStats", "Dispatcher", "NoLiveActorsError", "PlacementError"]
