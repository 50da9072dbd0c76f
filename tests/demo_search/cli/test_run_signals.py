"""Signals while ``demo-search run`` starts up: every SIGTERM or SIGINT, at any moment (including inside
``ray.init``, which installs a SIGTERM handler of its own), ends the search ``interrupted`` with its lease released
and no process of the run left behind; a signal to a re-run of a finished search leaves it finished.

Each run starts its own local Ray (no ``RAY_ADDRESS``), as a user's first ``demo-search run`` does. The processes
of a run are found by a marker in their environment, which Ray's processes inherit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from db import SearchStatus, Store, StoreError

REPO = Path(__file__).resolve().parents[3]
QUICKSTART = REPO / "examples" / "quickstart.yaml"
MARKER = "DEMO_SEARCH_SIGNAL_TEST"
START_TIMEOUT_S = 300.0
EXIT_TIMEOUT_S = 180.0


def processes_marked(tag: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(MARKER) == tag:
                found.append(process)
        except psutil.Error:
            continue
    return found


def start_run(tmp_path: Path, name: str, tag: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "DEMO_SEARCH_DB", "DEMO_SEARCH_FAILPOINTS")}
    env.update({MARKER: tag, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"})
    args = [str(Path(sys.executable).parent / "demo-search"), "run", str(QUICKSTART), "--name", name,
            "--db", db_url(tmp_path), "--workers", "1"]
    return subprocess.Popen(args, cwd=tmp_path, env=env, text=True, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'signals.db'}"


def wait_for_lease(tmp_path: Path, name: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the run ended before taking its lease:\n{process.communicate()[0]}"
        try:
            with Store.open(db_url(tmp_path), create=False) as store:
                if store.find_search(name) is not None and store.lease_of(name) is not None:
                    return
        except StoreError:  # not created yet, or its schema is being made right now
            pass
        time.sleep(0.1)
    raise AssertionError(f"the run took no lease within {START_TIMEOUT_S} s")


def finish(process: subprocess.Popen[str]) -> str:
    try:
        return process.communicate(timeout=EXIT_TIMEOUT_S)[0]
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError(f"the run did not end {EXIT_TIMEOUT_S} s after the signal:\n{process.communicate()[0]}")


def assert_nothing_left(tag: str) -> None:
    """No process of the run remains (a few seconds of grace for processes already on their way out)."""
    deadline = time.monotonic() + 15.0
    while (left := processes_marked(tag)) and time.monotonic() < deadline:
        time.sleep(0.5)
    described = []
    for process in left:
        try:
            described.append(f"{process.pid} {' '.join(process.cmdline())[:120]}")
        except psutil.Error:
            continue
    for process in left:  # do not leave them to the next test
        try:
            process.kill()
        except psutil.Error:
            continue
    assert not described, "processes of the run outlived it:\n" + "\n".join(described)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "delay_s", "to_group"),
    [
        (signal.SIGTERM, 0.5, False),  # just after the lease: ray.init is starting (a local Ray takes ~10 s here)
        (signal.SIGTERM, 3.5, False),  # inside ray.init (exit 15 and status failed before the fix)
        (signal.SIGINT, 2.0, True),  # Ctrl-C: the whole foreground process group gets SIGINT, Ray's children too
    ],
)
def test_a_signal_during_start_up_leaves_the_search_interrupted_without_lease_or_processes(
    tmp_path: Path, signum: int, delay_s: float, to_group: bool
) -> None:
    tag, name = uuid.uuid4().hex, "signalled"
    process = start_run(tmp_path, name, tag)
    wait_for_lease(tmp_path, name, process)
    time.sleep(delay_s)
    (os.killpg if to_group else os.kill)(process.pid, signum)
    output = finish(process)

    assert process.returncode == 130, output
    assert "Traceback" not in output, output
    assert "interrupted" in output, output
    with Store.open(db_url(tmp_path), create=False) as store:
        assert store.get_search(name).status is SearchStatus.INTERRUPTED
        assert store.lease_of(name) is None
    assert_nothing_left(tag)


@pytest.mark.slow
def test_a_signal_to_a_rerun_of_a_finished_search_leaves_it_finished(tmp_path: Path) -> None:
    tag, name = uuid.uuid4().hex, "finished"
    first = start_run(tmp_path, name, tag)
    output = finish(first)
    assert first.returncode == 0, output
    with Store.open(db_url(tmp_path), create=False) as store:
        finished = store.get_search(name)
    assert finished.status is SearchStatus.FINISHED

    again = start_run(tmp_path, name, tag)
    wait_for_lease(tmp_path, name, again)
    time.sleep(1.0)
    again.send_signal(signal.SIGTERM)
    output = finish(again)

    assert again.returncode == 130, output
    with Store.open(db_url(tmp_path), create=False) as store:
        search = store.get_search(name)
        assert search.status is SearchStatus.FINISHED
        assert search.stop_reason == finished.stop_reason
        assert store.lease_of(name) is None
    assert_nothing_left(tag)
