"""pytest plugin: after each test, check the driver's invariants on every search the test left in a SQLite file.

Registered from ``tests/conftest.py``. After each test it looks under the session's base temporary directory
(every test's ``tmp_path`` and every ``tmp_path_factory`` folder live there) for SQLite files that are new or
changed since the last look, and runs ``tests.support.search_invariants.assert_search_invariants`` on every
search in each one at the current schema revision. A broken invariant is an error of the test that left the
database. The end of the run prints how many databases, searches, steps, candidates and evaluations were
checked, so a run in which the check covered nothing shows it.

Not checked: PostgreSQL databases (the tests drop them when they end), databases at another schema revision
(the schema tests make them on purpose), and the store's own tests under ``tests/db/``, which write rows by
hand to test the store, not through the driver. A test elsewhere that does the same is marked
``@pytest.mark.hand_written_searches``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from db import SchemaState, Store, inspect_database
from tests.support.search_invariants import SearchCheck, assert_search_invariants

SQLITE_HEADER = b"SQLite format 3\x00"
EXEMPT_FOLDERS = ("tests/db",)
"""Tests under these folders write search rows by hand (the store's own tests): their databases are not checked."""
MARKER = "hand_written_searches"


@dataclass
class Tally:
    """What the check covered in this session."""

    databases: int = 0
    checks: list[SearchCheck] = field(default_factory=list)
    not_checked: dict[Path, str] = field(default_factory=dict)

    def summary(self) -> str:
        steps = sum(c.steps for c in self.checks)
        candidates = sum(c.candidates for c in self.checks)
        evaluations = sum(c.evaluations for c in self.checks)
        with_steps = sum(1 for c in self.checks if c.steps)
        return (
            f"search invariants: {len(self.checks)} search(es) checked ({with_steps} with recorded steps; {steps} "
            f"steps, {candidates} candidates, {evaluations} evaluations) in {self.databases} SQLite database(s); "
            f"{len(self.not_checked)} database(s) at another schema revision or unreadable, not checked"
        )


def sqlite_files(root: Path, skip: set[Path] = frozenset()) -> Iterator[Path]:
    """Every SQLite database file under ``root`` (found by its header), leaving out the folders in ``skip``."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) not in skip]
        for file in files:
            path = Path(folder, file)
            if file.endswith(("-wal", "-shm", "-journal")):
                continue
            try:
                with path.open("rb") as handle:
                    if handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER:
                        yield path
            except OSError:
                continue


def check_database(path: Path) -> tuple[list[SearchCheck], str | None]:
    """Check every search in the SQLite file ``path``: the checks made, or why the file was not checked.

    Raises ``AssertionError`` naming the file and every broken invariant of every search in it.
    """
    url = f"sqlite:///{path}"
    try:
        info = inspect_database(url)
    except Exception as error:  # noqa: BLE001 - a file a test broke on purpose is not a search database
        return [], f"unreadable: {error}"
    if info.state is not SchemaState.CURRENT:
        return [], f"schema {info.state.value}"
    checks, failures = [], []
    with Store.open(url, create=False) as store:
        for summary in store.list_searches():
            try:
                checks.append(assert_search_invariants(store, summary.search.name))
            except AssertionError as broken:
                failures.append(str(broken))
    if failures:
        raise AssertionError(f"{path}:\n" + "\n".join(failures))
    return checks, None


def _signature(path: Path) -> tuple:
    wal = path.with_name(path.name + "-wal")
    parts = [path] + ([wal] if wal.exists() else [])
    try:
        return tuple((p.stat().st_size, p.stat().st_mtime_ns) for p in parts)
    except FileNotFoundError:
        return ()


class InvariantWatcher:
    """Finds the SQLite files that changed under ``root`` since the last look, and checks them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tally = Tally()
        self._seen: dict[Path, tuple] = {}
        self._finished: set[Path] = set()

    def changed(self) -> list[Path]:
        changed = []
        for path in sqlite_files(self.root, self._finished):
            signature = _signature(path)
            if self._seen.get(path) != signature:
                self._seen[path] = signature
                changed.append(path)
        return changed

    def check_changed(self, *, exempt: bool) -> None:
        failures = []
        for path in self.changed():
            if exempt:
                continue
            try:
                checks, why_not = check_database(path)
            except AssertionError as broken:
                failures.append(str(broken))
                continue
            if why_not is not None:
                self.tally.not_checked[path] = why_not
                continue
            self.tally.databases += 1
            self.tally.checks.extend(checks)
        if failures:
            raise AssertionError("stored searches break the driver's invariants:\n" + "\n".join(failures))

    def finished(self, folder: Path | None) -> None:
        """``folder`` (a finished test's ``tmp_path``) will not change again: stop looking into it."""
        if folder is not None:
            self._finished.add(folder)


_WATCHER = pytest.StashKey[InvariantWatcher]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: the test writes search rows by hand, so the driver's invariants are not checked"
    )


def _is_exempt(item: pytest.Item) -> bool:
    relative = Path(item.path).resolve().relative_to(item.config.rootpath.resolve()).as_posix()
    return item.get_closest_marker(MARKER) is not None or relative.startswith(tuple(f + "/" for f in EXEMPT_FOLDERS))


def _watcher(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> InvariantWatcher:
    if _WATCHER not in config.stash:
        config.stash[_WATCHER] = InvariantWatcher(tmp_path_factory.getbasetemp())
    return config.stash[_WATCHER]


@pytest.fixture(autouse=True)
def _check_stored_searches(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    watcher = _watcher(request.config, tmp_path_factory)
    yield
    try:
        watcher.check_changed(exempt=_is_exempt(request.node))
    finally:
        watcher.finished(request.node.funcargs.get("tmp_path"))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # noqa: ARG001
    watcher = config.stash.get(_WATCHER, None)
    if watcher is not None:
        terminalreporter.write_line(watcher.tally.summary())
