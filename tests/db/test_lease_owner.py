"""LeaseOwner: the host:pid:tag string that names a lease's holder, and whether that holder is known dead."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from db import LeaseOwner


def test_the_current_owner_is_this_process_and_round_trips_through_its_string() -> None:
    owner = LeaseOwner.current()

    assert (owner.host, owner.pid) == (socket.gethostname(), os.getpid())
    assert str(owner) == f"{owner.host}:{owner.pid}:{owner.tag}"
    assert LeaseOwner.parse(str(owner)) == owner
    assert LeaseOwner.current().tag != owner.tag  # two holders in one process are told apart


def test_the_default_owner_string_is_the_current_owner() -> None:
    owner = LeaseOwner.parse(str(LeaseOwner.current()))

    assert (owner.host, owner.pid) == (socket.gethostname(), os.getpid())


@pytest.mark.parametrize(
    "text", ["me", "host:12", "host:12:tag:more", "host:pid:tag", ":12:tag", "host:0:tag", "host:-3:tag", "host:12:"]
)
def test_text_that_is_not_host_pid_tag_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="lease owner"):
        LeaseOwner.parse(text)


def test_values_are_checked_when_built() -> None:
    with pytest.raises(ValueError, match="host must be a non-empty name without ':'"):
        LeaseOwner("a:b", 1, "t")
    with pytest.raises(ValueError, match="pid must be a positive integer"):
        LeaseOwner("h", True, "t")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at most 255 characters"):
        LeaseOwner("h" * 300, 1, "t")


def test_only_a_process_of_this_host_that_no_longer_runs_is_dead() -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    exited_pid = int(finished.stdout)
    host = socket.gethostname()

    assert LeaseOwner(host, exited_pid, "gone").is_dead_on_this_host()
    assert not LeaseOwner(host, os.getpid(), "me").is_dead_on_this_host()
    assert not LeaseOwner(host, 1, "init").is_dead_on_this_host()  # running (whoever owns it)
    assert not LeaseOwner(f"not-{host}", exited_pid, "elsewhere").is_dead_on_this_host()
    assert not LeaseOwner(host, 2**70, "impossible").is_dead_on_this_host()
