"""The dispatcher's view of one engine actor: a small state machine with named transitions (no Ray in here).

States and the transitions between them (``TRANSITIONS`` is the one table of what is legal)::

    STARTING --placed--> LOADING --loaded--> IDLE                     start-up: placed, then the engine built
    STARTING --join--> PROBING                                        an actor added while running (growth)
    IDLE --start_unit--> BUSY --finish_unit / abandon_unit--> IDLE   one unit in flight
    IDLE --restarted--> IDLE                                          a reply came from a new incarnation
    BUSY --mark_dead--> WAITING                                       the unit's actor (or its engine) died
    WAITING --start_probe--> PROBING                                  a ``load()`` probe is in flight
    PROBING --still_unavailable--> WAITING                            probe again after ``retry_in``
    PROBING --abandon_probe--> WAITING                                the run stopped: probe again next run
    PROBING --rejoin--> IDLE                                          the actor is back with its engine
    any state but GONE --drop--> GONE                                 killed, or removed from the pool for good

A slot in WAITING or PROBING is *recovering*: it is dropped once ``recovery_timeout_s`` has passed since it
failed (or since it joined). Any other transition raises ``SlotTransitionError`` naming the slot, the
transition and the state. Times are ``time.monotonic()`` values passed in by the caller, so the machine is a
plain value that tests drive without Ray or a clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from workers.errors import SlotTransitionError


class SlotState(enum.Enum):
    STARTING = "starting"  # the actor was started; Ray has not placed it yet
    LOADING = "loading"  # placed; its engine is being built
    IDLE = "idle"  # free for a unit
    BUSY = "busy"  # one unit in flight
    WAITING = "waiting"  # an attempt was lost with the actor; a probe is due at ``probe_after``
    PROBING = "probing"  # a ``load()`` probe in flight: it answers once the actor has its engine again
    GONE = "gone"  # killed and out of the pool


_LIVE = frozenset(SlotState) - {SlotState.GONE}

# transition name -> (states it may start from, state it ends in)
TRANSITIONS: dict[str, tuple[frozenset[SlotState], SlotState]] = {
    "placed": (frozenset({SlotState.STARTING}), SlotState.LOADING),
    "loaded": (frozenset({SlotState.LOADING}), SlotState.IDLE),
    "join": (frozenset({SlotState.STARTING}), SlotState.PROBING),
    "start_unit": (frozenset({SlotState.IDLE}), SlotState.BUSY),
    "finish_unit": (frozenset({SlotState.BUSY}), SlotState.IDLE),
    "abandon_unit": (frozenset({SlotState.BUSY}), SlotState.IDLE),
    "restarted": (frozenset({SlotState.IDLE}), SlotState.IDLE),
    "mark_dead": (frozenset({SlotState.BUSY}), SlotState.WAITING),
    "start_probe": (frozenset({SlotState.WAITING}), SlotState.PROBING),
    "still_unavailable": (frozenset({SlotState.PROBING}), SlotState.WAITING),
    "abandon_probe": (frozenset({SlotState.PROBING}), SlotState.WAITING),
    "rejoin": (frozenset({SlotState.PROBING}), SlotState.IDLE),
    "drop": (_LIVE, SlotState.GONE),
}

RECOVERING = frozenset({SlotState.WAITING, SlotState.PROBING})


@dataclass(eq=False)
class Slot:
    """One actor of a pool: its Ray ``handle``, its placement ``group`` (tensor parallelism; released with
    the actor), the ``incarnation`` that last answered, the prefix it has warmed, and its state.

    The state changes only through the transition methods below; each refuses a state it does not start from.
    """

    name: str
    handle: Any
    group: Any = None
    incarnation: str = ""
    warmed_prefix: tuple[int, ...] | None = None
    failed_at: float = 0.0  # when it started recovering (failed, or joined)
    probe_after: float = 0.0  # when its next probe is due (WAITING)
    _state: SlotState = field(default=SlotState.STARTING, init=False)

    @property
    def state(self) -> SlotState:
        return self._state

    # -- questions ------------------------------------------------------------------------------------

    @property
    def is_live(self) -> bool:
        """Still in the pool (not ``GONE``)."""
        return self._state is not SlotState.GONE

    @property
    def can_take_unit(self) -> bool:
        return self._state is SlotState.IDLE

    @property
    def recovering(self) -> bool:
        return self._state in RECOVERING

    def probe_due(self, now: float) -> bool:
        return self._state is SlotState.WAITING and now >= self.probe_after

    def recovery_expired(self, now: float, recovery_timeout_s: float) -> bool:
        return self.recovering and now - self.failed_at >= recovery_timeout_s

    def next_due(self, recovery_timeout_s: float) -> float | None:
        """The earliest time something is due for this slot (its probe, or the end of its recovery time)."""
        due = [self.failed_at + recovery_timeout_s] if self.recovering else []
        if self._state is SlotState.WAITING:
            due.append(self.probe_after)
        return min(due) if due else None

    # -- transitions ----------------------------------------------------------------------------------

    def placed(self, incarnation: str) -> None:
        """Ray placed and started the actor (its ``ready()`` answered with ``incarnation``)."""
        self._move("placed")
        self.incarnation = incarnation

    def loaded(self, incarnation: str) -> None:
        """The actor built its engine at start-up: it takes units from now on."""
        self._move("loaded")
        self.incarnation = incarnation

    def join(self, now: float) -> None:
        """An actor started while the pool runs: its ``load()`` probe is in flight, and until it answers (at most
        the recovery time) the slot counts as recovering."""
        self._move("join")
        self.failed_at = now

    def start_unit(self, prefix_ids: tuple[int, ...]) -> bool:
        """A unit with this prefix is sent; ``True`` when the caller must warm the prefix first (the slot then
        records it as warmed)."""
        self._move("start_unit")
        if self.warmed_prefix == prefix_ids:
            return False
        self.warmed_prefix = prefix_ids
        return True

    def finish_unit(self) -> None:
        """The unit's reply came back (a result, or an error the engine raised)."""
        self._move("finish_unit")

    def abandon_unit(self) -> None:
        """The run stopped early: the actor finishes the unit and its result is dropped; the next unit sent
        queues behind it."""
        self._move("abandon_unit")

    def restarted(self, incarnation: str) -> None:
        """A reply came from a new incarnation of the actor (Ray restarted it): its warm prefix is lost."""
        self._move("restarted")
        self.incarnation = incarnation
        self.warmed_prefix = None

    def forget_warm(self) -> None:
        """The warm call failed: warm again before the next unit (not a state change)."""
        if not self.is_live:
            raise SlotTransitionError(f"actor slot {self.name}: cannot forget_warm while gone")
        self.warmed_prefix = None

    def mark_dead(self, now: float) -> None:
        """The actor of the unit in flight died or became unreachable, or its engine died (the actor discarded it):
        probe it at once, before any unit (the probe's ``load()`` answers once the engine is built again)."""
        self._move("mark_dead")
        self.failed_at = self.probe_after = now
        self.warmed_prefix = None

    def start_probe(self) -> None:
        """A ``load()`` probe was sent."""
        self._move("start_probe")

    def still_unavailable(self, retry_at: float) -> None:
        """The probe found the actor still restarting: probe again at ``retry_at``."""
        self._move("still_unavailable")
        self.probe_after = retry_at

    def abandon_probe(self) -> None:
        """The run stopped with a probe in flight: its answer is dropped, and the next run probes again."""
        self._move("abandon_probe")

    def rejoin(self, incarnation: str) -> None:
        """The probe answered: the actor (restarted, or new) has its engine and takes units again."""
        self._move("rejoin")
        self.incarnation = incarnation

    def drop(self) -> None:
        """The actor was killed or is dead for good: the slot leaves the pool (the caller kills the actor)."""
        self._move("drop")

    def _move(self, transition: str) -> None:
        sources, target = TRANSITIONS[transition]
        if self._state not in sources:
            allowed = ", ".join(sorted(state.value for state in sources))
            raise SlotTransitionError(
                f"actor slot {self.name}: cannot {transition} while {self._state.value} (only from {allowed})"
            )
        self._state = target


__all__ = ["RECOVERING", "TRANSITIONS", "Slot", "SlotState"]
