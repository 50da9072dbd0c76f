"""The engine actors of one dispatcher: started and placed, grown when the cluster has room, probed while they
recover from a death, and killed.

Ray must already be initialised by the caller. Every change of an actor's state goes through its ``Slot``
(``workers.slots``); this module makes the Ray calls around those transitions.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import ray
from ray.exceptions import ActorDiedError, RayActorError, RayError, RayTaskError

from workers.actor import ActorCounters, EngineFactory
from workers.dispatch_stats import StatsTally
from workers.errors import EngineError, PlacementError, WorkerError
from workers.placement import (
    ActorOptions,
    cluster_capacity,
    explain_unplaceable,
    format_resources,
    release,
    reserve,
)
from workers.slots import Slot
from workers.spec import EngineSpec

logger = logging.getLogger(__name__)

# How often a wait for actors that are placed but still starting checks that they still have room.
_START_POLL_S = 5.0


class ActorPool:
    """``num_actors`` engine actors built from ``spec`` (``None``: as many as the cluster places now, and more
    as nodes join, checked every ``grow_interval_s`` by ``grow``).

    The constructor starts the actors, waits up to ``placement_timeout_s`` for Ray to place them (longer while
    the cluster has room for them: they are placed and still starting; ``PlacementError`` names the resources no
    node offers; when filling the cluster, only if not even one was
    placed, the others being let go), then up to ``load_timeout_s`` (``None``: no limit) for their engines
    (``EngineError`` names the actor and the cause); on any failure it kills what it started. A slot that
    failed and is not back with its engine within ``recovery_timeout_s`` is dropped by ``expire_recoveries``.
    Actors are named ``engine-0``, ``engine-1``, ... in start order, never twice.
    """

    def __init__(
        self,
        spec: EngineSpec,
        num_actors: int | None,
        options: ActorOptions,
        tally: StatsTally,
        *,
        placement_timeout_s: float,
        load_timeout_s: float | None,
        recovery_timeout_s: float,
        probe_interval_s: float,
        grow_interval_s: float,
        engine_factory: EngineFactory | None = None,
    ) -> None:
        if num_actors is not None and num_actors < 1:
            raise ValueError(f"num_actors must be >= 1 (or None: fill the cluster), got {num_actors}")
        for name, value in (("placement_timeout_s", placement_timeout_s), ("recovery_timeout_s", recovery_timeout_s)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        if not ray.is_initialized():
            raise WorkerError(
                "Ray is not initialised: call ray.init(...) (or ray.init(address=...)) before creating a Dispatcher"
            )
        self._spec = spec
        self._options = options
        self._tally = tally
        self._engine_factory = engine_factory
        self._recovery_timeout_s = recovery_timeout_s
        self._probe_interval_s = probe_interval_s
        self._fill_cluster = num_actors is None
        self._grow_interval_s = grow_interval_s
        self._next_grow_check = time.monotonic() + grow_interval_s
        if num_actors is None:
            num_actors = cluster_capacity(options)
            if num_actors == 0:
                demand = options.demand()
                raise PlacementError(
                    f"the cluster has no room for an engine actor asking for {format_resources(demand)}: "
                    f"{explain_unplaceable(demand, ray.nodes())}. Add nodes that offer them, or lower the "
                    "per-actor resources"
                )
            logger.info("filling the cluster: room for %d engine actor(s)", num_actors)
        self._slots: list[Slot] = []
        self._actors_started = 0
        try:
            for _ in range(num_actors):
                self._slots.append(self._start_actor())
            self._await_placement(placement_timeout_s, load_timeout_s)
            self._await_engines(load_timeout_s)
        except BaseException:
            self.kill_all()
            raise

    # -- what is in the pool --------------------------------------------------------------------------

    @property
    def slots(self) -> tuple[Slot, ...]:
        """Every slot, in start order, including those gone."""
        return tuple(self._slots)

    def live_slots(self) -> list[Slot]:
        return [slot for slot in self._slots if slot.is_live]

    def counters(self) -> dict[str, ActorCounters]:
        """Each live actor's own counters (waits for the unit an actor may be running)."""
        live = self.live_slots()
        return dict(zip([s.name for s in live], ray.get([s.handle.counters.remote() for s in live]), strict=True))

    # -- growing and recovering -----------------------------------------------------------------------

    def grow(self, now: float) -> dict[Any, Slot]:
        """When filling the cluster, every ``grow_interval_s``: start actors for the room the cluster has now (a
        node joined, or came back), unless an actor is recovering (its restart may be about to take that room).

        Returns the ``load()`` probes sent to the new actors, by Ray reference; pass each answer to
        ``finish_probe``.
        """
        if not self._fill_cluster or now < self._next_grow_check:
            return {}
        self._next_grow_check = now + self._grow_interval_s
        if any(slot.recovering for slot in self._slots):
            return {}
        probes = {}
        for _ in range(cluster_capacity(self._options)):
            slot = self._start_actor()
            self._slots.append(slot)
            # The probe answers once the actor is placed and has its engine; until then, and at most
            # recovery_timeout_s, the slot counts as recovering.
            slot.join(now)
            probes[slot.handle.load.remote()] = slot
            logger.info("the cluster has room: engine actor %s joins the pool", slot.name)
        return probes

    def probe(self, slot: Slot) -> Any:
        """Send a ``load()`` probe to a slot whose probe is due; its Ray reference (pass the answer to
        ``finish_probe``)."""
        slot.start_probe()
        return slot.handle.load.remote()

    def finish_probe(self, ref: Any, slot: Slot) -> None:
        """The probe ``ref`` of ``slot`` answered: the actor rejoins, is probed again later, or is dropped."""
        if not slot.is_live:  # removed while the probe was in flight
            return
        try:
            incarnation = ray.get(ref)
        except ActorDiedError as err:
            self.drop(slot, f"it is dead for good: {describe_error(err)}")
        except RayTaskError as err:
            self.drop(slot, f"its engine failed to load again (after a restart or its death): {describe_error(err)}")
        except RayActorError as err:
            slot.still_unavailable(time.monotonic() + self._probe_interval_s)
            logger.info("actor %s still unavailable (%s); probing again", slot.name, describe_error(err))
        else:
            if slot.incarnation:
                logger.warning("actor %s is back as %s (was %s)", slot.name, incarnation, slot.incarnation)
            else:
                logger.info("actor %s joined the pool as %s", slot.name, incarnation)
            slot.rejoin(incarnation)

    def lose(self, slot: Slot, err: Exception) -> None:
        """The actor of ``slot``'s unit in flight died or is unreachable: count it, and probe it before any unit."""
        self._tally.add(actor_deaths=1)
        slot.mark_dead(time.monotonic())
        logger.warning("actor %s (%s) failed: %s", slot.name, slot.incarnation, describe_error(err))

    def engine_died(self, slot: Slot, err: Exception) -> None:
        """The engine of ``slot``'s actor died during the unit in flight; the actor lives and has discarded it. Count
        it, and probe the actor (its ``load()`` builds a new engine) before any unit: a failed rebuild drops it."""
        self._tally.add(engine_deaths=1)
        slot.mark_dead(time.monotonic())
        logger.warning(
            "engine of actor %s (%s) died, rebuilding it: %s", slot.name, slot.incarnation, describe_error(err)
        )

    def note_restart(self, slot: Slot, incarnation: str, unit_id: str) -> int:
        """A reply for ``unit_id`` came from a new incarnation of the actor: count the death; 1 if Ray re-ran the
        unit (one more attempt), else 0.

        With ``max_task_retries == 0`` Ray re-runs nothing, so the actor restarted while idle. Otherwise
        Ray re-sent the unit to the restarted actor, which counts as one more attempt.
        """
        rerun = self._options.max_task_retries != 0
        logger.warning(
            "actor %s was restarted (%s -> %s)%s",
            slot.name,
            slot.incarnation,
            incarnation,
            f" and Ray re-ran unit {unit_id} on it" if rerun else " while idle",
        )
        self._tally.add(actor_deaths=1, retries=int(rerun))
        slot.restarted(incarnation)
        return int(rerun)

    def expire_recoveries(self, now: float) -> None:
        """Drop the slots that failed (or joined) and are not back within ``recovery_timeout_s``."""
        for slot in self._slots:
            if slot.recovery_expired(now, self._recovery_timeout_s):
                self.drop(slot, f"it was not back within {self._recovery_timeout_s:g} s (recovery_timeout_s)")

    def next_check_in(self, now: float) -> float | None:
        """Seconds until a probe or a recovery timeout is due; ``None`` if no actor is recovering."""
        due = [d for d in (slot.next_due(self._recovery_timeout_s) for slot in self._slots) if d is not None]
        return max(0.0, min(due) - now) if due else None

    # -- ending ---------------------------------------------------------------------------------------

    def drop(self, slot: Slot, why: str) -> None:
        """Remove ``slot`` from the pool for good (its actor is killed) and count it."""
        self._kill(slot)
        self._tally.add(actors_lost=1)
        logger.error(
            "actor %s removed from the pool, %s; %d actor(s) left", slot.name, why, len(self.live_slots())
        )

    def close(self, timeout_s: float) -> int:
        """Shut every live engine down (waiting up to ``timeout_s``), then kill every actor; how many were live."""
        live = self.live_slots()
        refs = [slot.handle.shutdown.remote() for slot in live]
        if refs:
            ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
        self.kill_all()
        return len(live)

    def kill_all(self) -> None:
        """Kill every live actor at once (``ray.kill`` is asynchronous) and release its placement group."""
        for slot in self.live_slots():
            self._kill(slot)

    # -- start-up -------------------------------------------------------------------------------------

    def _start_actor(self) -> Slot:
        """A new slot whose actor Ray places asynchronously (in its own placement group if it needs one)."""
        group = reserve(self._options)
        handle = self._options.remote_class(group).remote(
            self._spec, self._engine_factory, threads=self._options.threads()
        )
        self._actors_started += 1
        return Slot(name=f"engine-{self._actors_started - 1}", handle=handle, group=group)

    def _await_placement(self, timeout_s: float, start_timeout_s: float | None) -> None:
        """Wait for every actor's process to be up. ``timeout_s`` bounds the wait only while the cluster has no
        room for the actors not up yet: with room free, Ray has placed them (a placed actor holds its resources)
        and their worker processes are starting, which on a loaded machine can take longer than ``timeout_s``;
        that wait is bounded by ``start_timeout_s`` (``None``: no limit)."""
        refs = {slot.handle.ready.remote(): slot for slot in self._slots}
        started = time.monotonic()
        done, not_done = ray.wait(list(refs), num_returns=len(refs), timeout=timeout_s)
        while not_done and cluster_capacity(self._options) >= len(not_done):
            waited = time.monotonic() - started
            if start_timeout_s is not None and waited >= start_timeout_s:
                break
            logger.info("%d engine actor(s) placed but still starting after %.0f s", len(not_done), waited)
            step = _START_POLL_S if start_timeout_s is None else min(_START_POLL_S, start_timeout_s - waited)
            more, not_done = ray.wait(not_done, num_returns=len(not_done), timeout=step)
            done += more
        if not_done and self._fill_cluster and done:
            logger.warning(
                "%d of %d engine actor(s) were not placed within %g s; going on with %d",
                len(not_done), len(refs), timeout_s, len(done),
            )
            for ref in not_done:
                self._kill(refs.pop(ref))
            self._slots = self.live_slots()
            not_done = []
        if not_done and cluster_capacity(self._options) >= len(not_done):
            raise PlacementError(
                f"{len(not_done)} of {len(refs)} engine actor(s) were placed but their processes did not start "
                f"within {start_timeout_s:g} s (the load timeout); see the Ray worker logs of those actors"
            )
        if not_done:
            demand = self._options.demand()
            totals = ray.cluster_resources()
            available = ray.available_resources()
            raise PlacementError(
                f"{len(not_done)} of {len(refs)} engine actor(s) could not be placed within {timeout_s:g} s. "
                f"Each asks for {format_resources(demand)}: {explain_unplaceable(demand, ray.nodes())}. "
                f"Cluster total of those: {format_resources({k: totals.get(k, 0.0) for k in demand})}; "
                f"available now: {format_resources({k: available.get(k, 0.0) for k in demand})}. "
                "Lower the number of actors or the per-actor resources (ActorOptions), or add nodes that offer them."
            )
        for ref in done:
            slot = refs[ref]
            slot.placed(self._get_or_raise(ref, slot, "start"))
        logger.info("%d engine actor(s) placed, each with %s", len(done), format_resources(self._options.demand()))

    def _await_engines(self, timeout_s: float | None) -> None:
        started = time.monotonic()
        refs = {slot.handle.load.remote(): slot for slot in self._slots}
        done, not_done = ray.wait(list(refs), num_returns=len(refs), timeout=timeout_s)
        for ref in done:
            slot = refs[ref]
            slot.loaded(self._get_or_raise(ref, slot, "build its engine"))
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

    def _get_or_raise(self, ref: Any, slot: Slot, what: str) -> str:
        try:
            return ray.get(ref)
        except RayError as err:
            raise EngineError(
                f"engine actor {slot.name} failed to {what} ({self._spec.kind} engine, model {self._spec.model!r}): "
                f"{describe_error(err)}"
            ) from err

    @staticmethod
    def _kill(slot: Slot) -> None:
        ray.kill(slot.handle, no_restart=True)
        release(slot.group)
        slot.group = None
        slot.drop()


def describe_error(err: BaseException) -> str:
    """``Type: message`` of the error a task raised (unwrapping Ray's wrapper), on one line."""
    cause = err.cause if isinstance(err, RayTaskError) and err.cause is not None else err
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0] if text else ''}"


__all__ = ["ActorPool", "describe_error"]
