"""The store the dashboard reads, opened read-only and kept fresh while searches write to it.

A read-only SQLite store is opened ``immutable`` when the file has no write-ahead log (no writer is active),
so it would never see a search that starts later; with a log it is opened ``mode=ro`` and reads the log. So the
SQLite store is reopened whenever its file's state changes: the log appears or disappears, or, while there is
none, the file itself changes. A PostgreSQL store (a read-only session) always sees the newest commits and is
opened once.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from db import Store, parse_url
from db.engine import display_url, sqlite_file

logger = logging.getLogger(__name__)

FileState = tuple[bool, int | None, int | None]
"""(write-ahead log present, file mtime in ns, file size), the last two only while there is no log."""


class StoreSource:
    """Hands out the current read-only store on ``url``; :meth:`close` closes it. Safe to use from threads."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._path: Path | None = sqlite_file(parse_url(url))
        self._lock = threading.Lock()
        self._store: Store | None = None
        self._state: FileState | None = None

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return display_url(parse_url(self._url))

    def store(self) -> Store:
        """The store, (re)opened if the SQLite file changed since it was opened; raises what ``Store.open``
        raises (e.g. ``DatabaseNotFoundError``)."""
        with self._lock:
            state = self._file_state()
            if self._store is None or state != self._state:
                if self._store is not None:
                    logger.debug("database file %s changed: reopening the store", self._path)
                    self._store.close()
                    self._store = None
                self._store = Store.open(self._url, read_only=True)
                self._state = state
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def _file_state(self) -> FileState | None:
        if self._path is None or not self._path.is_file():
            return None
        if self._path.with_name(self._path.name + "-wal").exists():
            return (True, None, None)
        stat = self._path.stat()
        return (False, stat.st_mtime_ns, stat.st_size)
