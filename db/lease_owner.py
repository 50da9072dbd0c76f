"""Who holds a lease: ``host:pid:tag``, made and read in this one place."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

from db.records import MAX_OWNER_LENGTH


@dataclass(frozen=True)
class LeaseOwner:
    """A process that holds (or wants) a search's lease: its host name, its process id and a random tag.

    ``str(owner)`` is the owner string the store keeps (``host:pid:tag``); :meth:`parse` reads it back. The tag
    tells apart two holders in one process (two drivers of one test) and a process whose id was reused.
    """

    host: str
    pid: int
    tag: str

    def __post_init__(self) -> None:
        if not self.host or ":" in self.host:
            raise ValueError(f"a lease owner's host must be a non-empty name without ':', got {self.host!r}")
        if isinstance(self.pid, bool) or not isinstance(self.pid, int) or self.pid <= 0:
            raise ValueError(f"a lease owner's pid must be a positive integer, got {self.pid!r}")
        if not self.tag or ":" in self.tag:
            raise ValueError(f"a lease owner's tag must be non-empty without ':', got {self.tag!r}")
        if len(str(self)) > MAX_OWNER_LENGTH:
            raise ValueError(f"a lease owner must have at most {MAX_OWNER_LENGTH} characters, got {str(self)!r}")

    @classmethod
    def current(cls) -> LeaseOwner:
        """This process, with a new random tag."""
        return cls(host=socket.gethostname(), pid=os.getpid(), tag=uuid.uuid4().hex[:8])

    @classmethod
    def parse(cls, text: str) -> LeaseOwner:
        """The owner that ``text`` (as made by ``str(owner)``) names; ``ValueError`` if it is not ``host:pid:tag``
        (a lease held under another name, e.g. by another tool)."""
        parts = text.split(":")
        if len(parts) != 3 or not parts[1].isascii() or not parts[1].isdigit():
            raise ValueError(f"a lease owner must read host:pid:tag, got {text!r}")
        host, pid, tag = parts
        return cls(host=host, pid=int(pid), tag=tag)

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.tag}"

    def is_dead_on_this_host(self) -> bool:
        """Whether this owner is a process of this host that no longer runs.

        ``False`` whenever that cannot be known for sure: another host, a running process (even one that reused
        the pid), or one this process may not signal.
        """
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # it exists, under another user
            return False
        except OverflowError:  # no process can have this id
            return False
        return False
