"""The search's lease: one driver at a time runs a search or tunes it.

``hold_lease`` takes the lease (taking it over from a holder that no longer runs on this host), renews it in
the background every ``LEASE_TTL_S / 3`` seconds, and releases it on the way out; ``LeaseCheckedDispatcher``
wraps a dispatcher so that no unit's result is handed on once the lease is lost (another driver may own the
search by then). Search and tuning both run under it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from db import LeaseHeldError, LeaseOwner, Store
from workers.units import UnitResult, WorkUnit

logger = logging.getLogger(__name__)

LEASE_TTL_S = 60.0

LeaseCheck = Callable[[], None]
"""Raises the error that lost the lease, once it is lost; returns ``None`` while the lease is held."""


@contextmanager
def hold_lease(store: Store, name: str) -> Iterator[LeaseCheck]:
    """Hold the search's lease, renewed in the background; yields a check that raises once it is lost."""
    owner = str(LeaseOwner.current())
    try:
        store.acquire_lease(name, owner, LEASE_TTL_S)
    except LeaseHeldError as held:
        if not _holder_is_dead(held.owner):
            raise
        logger.warning("the lease holder %s is no longer running on this host: taking the lease over", held.owner)
        store.take_over_lease(name, held.owner, owner, LEASE_TTL_S)
    lost: list[BaseException] = []
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(LEASE_TTL_S / 3):
            try:
                store.renew_lease(name, owner, LEASE_TTL_S)
            except Exception as error:  # noqa: BLE001 - reported to the driver through check()
                lost.append(error)
                return

    def check() -> None:
        if lost:
            raise lost[0]

    thread = threading.Thread(target=renew, name=f"lease-{name}", daemon=True)
    thread.start()
    try:
        yield check
    finally:
        stop.set()
        thread.join()
        store.release_lease(name, owner)


def _holder_is_dead(owner: str) -> bool:
    """Whether ``owner`` names a process of this host that no longer runs (an owner text this version does not
    read counts as alive: never take a lease over on a guess)."""
    try:
        return LeaseOwner.parse(owner).is_dead_on_this_host()
    except ValueError:
        return False


class LeaseCheckedDispatcher:
    """A dispatcher (and context manager, when the wrapped one is) that checks the lease before handing on each
    unit's result; results of a lost lease are never persisted."""

    def __init__(self, dispatcher: Any, check: LeaseCheck) -> None:
        self._dispatcher = dispatcher
        self._check = check

    def run(self, units: Sequence[WorkUnit]) -> Iterator[UnitResult]:
        results = self._dispatcher.run(units)
        try:
            for result in results:
                self._check()
                yield result
        finally:
            results.close()

    def __enter__(self) -> LeaseCheckedDispatcher:
        self._dispatcher.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._dispatcher.__exit__(*exc_info)
