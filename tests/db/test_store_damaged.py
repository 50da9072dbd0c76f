"""A SQLite file with a damaged page: every operation fails with DatabaseDamagedError naming the database, in one
line, and nothing is written to the file (a run must not leave a lease in it)."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from store_testing import items

from db import DatabaseDamagedError, Evaluation, SearchStatus, Store, upgrade


def build_database(path: Path) -> str:
    """A real store at ``path`` holding one search with items and evaluations, checkpointed into the file."""
    url = f"sqlite:///{path}"
    with Store.open(url) as store:
        store.create_search(
            "kept",
            config={},
            fingerprint="f",
            fingerprint_parts={},
            pool_items=items("pool", 40),
            heldout_prompts=items("prompt", 5),
        )
        pairs = [(f"set-{k}", f"prompt-{p}") for k in range(20) for p in range(5)]
        store.record_evaluations("kept", [Evaluation(key, prompt, 0.5, output="x" * 300) for key, prompt in pairs])
    assert sorted(path.parent.iterdir()) == [path]  # the last connection checkpointed and removed the log
    return url


def damage_table(path: Path, table: str) -> None:
    """Overwrite the root page of ``table`` with bytes that are no b-tree page."""
    reader = sqlite3.connect(f"{path.as_uri()}?immutable=1", uri=True)
    try:
        [root] = reader.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
        [page_size] = reader.execute("PRAGMA page_size").fetchone()
    finally:
        reader.close()
    assert root > 1
    with path.open("r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xde\xad\xbe\xef" * (page_size // 4))


def snapshot(directory: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(directory.iterdir())}


def assert_damage_reported(error: pytest.ExceptionInfo[DatabaseDamagedError], url: str) -> None:
    message = str(error.value)
    assert f"database {url} is damaged (" in message
    assert "\n" not in message


@pytest.mark.parametrize("table", ["searches", "evaluations"])
def test_opening_a_damaged_database_fails_before_writing_anything(tmp_path: Path, table: str) -> None:
    path = tmp_path / "store.db"
    url = build_database(path)
    damage_table(path, table)
    before = snapshot(tmp_path)

    for attempt in (
        lambda: Store.open(url),  # what `run` and `resume` do before taking the lease
        lambda: Store.open(url, create=False),
        lambda: Store.open(url, read_only=True),  # what `status`, `list` and `export` do
        lambda: upgrade(url),  # `demo-search db upgrade`
    ):
        with pytest.raises(DatabaseDamagedError, match="PRAGMA quick_check found: Page [0-9]+") as refused:
            attempt()
        assert_damage_reported(refused, url)

    assert snapshot(tmp_path) == before


def test_a_store_opened_before_the_damage_reports_it_on_every_operation(tmp_path: Path) -> None:
    """Each of these reads the damaged page of ``searches`` (writes through the foreign key on it)."""
    path = tmp_path / "store.db"
    url = build_database(path)
    store = Store.open(url)
    store.close()  # no connection left: the next operation reads the file again
    damage_table(path, "searches")
    before = snapshot(tmp_path)

    operations = [
        store.list_searches,
        lambda: store.get_search("kept"),
        lambda: store.find_search("kept"),
        lambda: store.set_status("kept", SearchStatus.RUNNING),
        lambda: store.acquire_lease("kept", "host:1:tag", ttl_s=60),
        lambda: store.record_evaluations("kept", [Evaluation("set-new", "prompt-0", 1.0)]),
    ]
    try:
        for operation in operations:
            with pytest.raises(DatabaseDamagedError, match="database disk image is malformed") as refused:
                operation()
            assert_damage_reported(refused, url)
    finally:
        store.close()

    assert snapshot(tmp_path) == before


def test_a_file_that_is_not_a_database_is_reported_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.write_bytes(b"these bytes are no SQLite header, " * 200)
    url = f"sqlite:///{path}"
    before = snapshot(tmp_path)

    for attempt in (lambda: Store.open(url), lambda: Store.open(url, read_only=True), lambda: upgrade(url)):
        with pytest.raises(DatabaseDamagedError, match="file is not a database") as refused:
            attempt()
        assert_damage_reported(refused, url)

    assert snapshot(tmp_path) == before
