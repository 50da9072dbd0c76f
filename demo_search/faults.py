"""Failpoints: named places where a test can make the driver die as if the machine failed.

``DEMO_SEARCH_FAILPOINTS="name:n,other:m"`` makes the ``n``-th pass through ``failpoint("name")`` SIGKILL the
process (no cleanup, no ``finally``), which is how the crash/resume tests interrupt a search mid-step,
between steps and inside a database transaction. The variable is read once, at the first failpoint (the tests set
it in the environment of the process they start); after that a failpoint costs one dict lookup.
"""

from __future__ import annotations

import functools
import os
import signal
import threading
from collections import Counter

ENV = "DEMO_SEARCH_FAILPOINTS"
_hits: Counter[str] = Counter()


@functools.cache
def _armed() -> dict[str, int]:
    spec = os.environ.get(ENV, "")
    armed = {}
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        name, _, count = entry.partition(":")
        armed[name] = int(count or 1)
    return armed


def failpoint(name: str) -> None:
    """Kill this process with SIGKILL on the configured pass through ``name``; otherwise do nothing."""
    armed = _armed()
    if name not in armed:
        return
    _hits[name] += 1
    if _hits[name] == armed[name]:
        os.kill(os.getpid(), signal.SIGKILL)


def install_commit_failpoint() -> None:
    """Arm ``failpoint("db_commit")`` inside the commit of every write transaction of the main thread (after the
    writes, before COMMIT).

    Read-only transactions and the lease renewals of the background thread (every ``LEASE_TTL_S / 3`` seconds)
    are not counted: the renewals would make "the n-th commit" depend on timing, and a read has nothing to lose.
    """
    if "db_commit" not in _armed():
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "commit", _on_commit):
        event.listen(Engine, "commit", _on_commit)


def _on_commit(connection) -> None:  # noqa: ANN001 - SQLAlchemy event signature
    from db.engine import WRITE

    if threading.current_thread() is threading.main_thread() and connection.get_execution_options().get(WRITE):
        failpoint("db_commit")
