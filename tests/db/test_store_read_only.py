"""Store.open(read_only=True), for the reading commands: it reads, and it never creates, migrates or writes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from store_testing import items

from db import (
    Candidate,
    CandidateStatus,
    DatabaseNotFoundError,
    Evaluation,
    SchemaState,
    SchemaVersionError,
    SearchStatus,
    Step,
    Store,
    StoreError,
    TuningResult,
    inspect_database,
    parse_url,
)
from db.engine import create_store_engine

NOBODY = 65534


def fill(store: Store) -> None:
    store.create_search(
        "kept",
        config={"k": 1},
        fingerprint="f",
        fingerprint_parts={},
        pool_items=items("pool", 2),
        heldout_prompts=items("prompt", 2),
    )
    store.record_evaluations("kept", [Evaluation("set-a", "prompt-0", 1.0), Evaluation("set-a", "prompt-1", 0.0)])


def writes(store: Store) -> list[Callable[[], object]]:
    """One call of every method that writes."""
    candidate = Candidate(0, "set-a", ("pool-0",), "pool-0", CandidateStatus.SCORED, score=0.5, n_scored=2)
    return [
        lambda: store.create_search("new", config={}, fingerprint="f", fingerprint_parts={}),
        lambda: store.set_status("kept", SearchStatus.RUNNING),
        lambda: store.record_evaluations("kept", [Evaluation("set-b", "prompt-0", 1.0)]),
        lambda: store.record_candidate("kept", candidate),
        lambda: store.record_step("kept", Step(0, "set-a", "pool-0", 0.5)),
        lambda: store.acquire_lease("kept", "host:1:tag", ttl_s=60),
        lambda: store.renew_lease("kept", "host:1:tag", ttl_s=60),
        lambda: store.take_over_lease("kept", "host:1:tag", "host:2:tag", ttl_s=60),
        lambda: store.release_lease("kept", "host:1:tag"),
        lambda: store.record_tuning_result("kept", TuningResult("study", ("pool-0",), {"t": 0.1}, 0.5, n_trials=1)),
    ]


def snapshot(directory: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(directory.iterdir())}


def test_a_read_only_store_reads_and_refuses_every_write(database_url: str) -> None:
    with Store.open(database_url) as store:
        fill(store)
        expected = (store.list_searches(), store.pool_items("kept"), store.evaluations_for("kept", "set-a"))

    with Store.open(database_url, read_only=True) as reader:
        assert reader.read_only
        assert (reader.list_searches(), reader.pool_items("kept"), reader.evaluations_for("kept", "set-a")) == expected
        for write in writes(reader):
            with pytest.raises(StoreError, match=re.escape(f"database {reader.url} was opened read-only: refusing ")):
                write()

    with Store.open(database_url) as store:
        assert (store.list_searches(), store.pool_items("kept"), store.evaluations_for("kept", "set-a")) == expected
        assert store.lease_of("kept") is None


def test_the_read_only_engine_itself_cannot_write(database_url: str) -> None:
    Store.open(database_url).close()  # a schema to find
    engine = create_store_engine(parse_url(database_url), read_only=True)
    try:
        with pytest.raises(SQLAlchemyError, match="read-?only"), engine.begin() as connection:
            connection.execute(text("CREATE TABLE intruder (id INTEGER)"))
    finally:
        engine.dispose()
    assert "intruder" not in inspect_database(database_url).tables


def test_read_only_neither_creates_nor_migrates(database_url: str, backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        error, message = DatabaseNotFoundError, "does not exist"
    else:
        error, message = SchemaVersionError, "no demo-search schema yet"
    with pytest.raises(error, match=message):
        Store.open(database_url, read_only=True)

    assert inspect_database(database_url).state in (SchemaState.MISSING, SchemaState.EMPTY)
    if backend == "sqlite":
        assert list(tmp_path.iterdir()) == []


def test_reading_a_sqlite_file_writes_nothing_beside_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with Store.open(url) as store:
        fill(store)
    before = snapshot(tmp_path)

    with Store.open(url, read_only=True) as reader:
        assert [summary.search.name for summary in reader.list_searches()] == ["kept"]
        with pytest.raises(StoreError, match="opened read-only"):
            reader.set_status("kept", SearchStatus.RUNNING)

    assert snapshot(tmp_path) == before  # same bytes, and no -wal or -shm file left behind


def test_a_read_only_store_sees_what_a_live_writer_commits(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with Store.open(url) as writer:
        fill(writer)  # the writer stays connected: its committed rows are in the write-ahead log
        with Store.open(url, read_only=True) as reader:
            assert reader.get_search("kept").status is SearchStatus.CREATED
            writer.set_status("kept", SearchStatus.RUNNING)
            assert reader.get_search("kept").status is SearchStatus.RUNNING


@pytest.fixture
def read_only_directory() -> Iterator[Path]:
    """A directory made read-only (mode 555) that the unprivileged user can enter, holding a store."""
    directory = Path(tempfile.mkdtemp(prefix="demo-search-ro-"))
    try:
        with Store.open(f"sqlite:///{directory / 'store.db'}") as store:
            fill(store)
        (directory / "store.db").chmod(0o644)
        directory.chmod(0o555)
        yield directory
    finally:
        directory.chmod(0o755)
        shutil.rmtree(directory)


def in_a_child_without_write_rights(work: Callable[[], Any]) -> Any:
    """Run ``work`` in a forked child that, when the tests run as root (whom file modes do not bind), first
    becomes the unprivileged ``nobody``; return what it returned (JSON), or raise what it raised, as text."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(reader)
        try:
            if os.geteuid() == 0:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            outcome = {"result": work()}
        except BaseException as error:  # noqa: BLE001 - handed to the parent
            outcome = {"error": f"{type(error).__name__}: {error}"}
        with os.fdopen(writer, "w") as pipe:
            json.dump(outcome, pipe)
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        outcome = json.loads(pipe.read() or '{"error": "the child died"}')
    os.waitpid(pid, 0)
    if "error" in outcome:
        raise AssertionError(outcome["error"])
    return outcome["result"]


def test_a_database_in_a_read_only_directory_can_be_read(read_only_directory: Path) -> None:
    url = f"sqlite:///{read_only_directory / 'store.db'}"
    before = snapshot(read_only_directory)
    Store.open(url, read_only=True).close()  # load every module the child needs while it still may read them

    def read() -> dict[str, Any]:
        assert not os.access(read_only_directory, os.W_OK), "the directory is writable: nothing would be shown"
        try:
            Store.open(url).close()
            writable_open = "succeeded"
        except StoreError as refused:
            writable_open = str(refused)
        with Store.open(url, read_only=True) as store:
            names = [summary.search.name for summary in store.list_searches()]
            prompts = [item.item_id for item in store.heldout_prompts("kept")]
        return {"writable_open": writable_open, "names": names, "prompts": prompts}

    seen = in_a_child_without_write_rights(read)

    assert seen["names"] == ["kept"] and seen["prompts"] == ["prompt-0", "prompt-1"]
    assert "readonly database" in seen["writable_open"]  # what `status` and `list` met before
    assert snapshot(read_only_directory) == before
