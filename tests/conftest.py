"""Fixtures shared by every test package.

``postgres_server`` (session scope) starts a throwaway PostgreSQL cluster with ``initdb`` / ``pg_ctl`` in a
temporary directory, listening on a free 127.0.0.1 port, and removes it when the session ends. ``postgres_url``
(function scope) creates a fresh, empty database on it for one test and drops it afterwards, so tests never see
each other's rows. Tests that use them are skipped, with the reason, when the server binaries are not installed
(on Debian: ``apt-get install -y postgresql``; the binaries land in ``/usr/lib/postgresql/<version>/bin``); under
``CI=true`` those skips fail instead (``tests/skip_policy.py``, a plugin registered here).

PostgreSQL refuses to run as root: when the tests run as root the cluster is run by the ``postgres`` user (or
``nobody``) through ``runuser``, and the temporary directory is handed to that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.local_ray import apply_slow_machine_timeouts

pytest_plugins = ["tests.skip_policy", "tests.support.invariant_plugin"]

apply_slow_machine_timeouts()
_HF_HOME: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """No test reaches the Hugging Face hub: the session runs offline with an empty Hugging Face home of its own
    (inherited by CLI subprocesses and the tests' Ray actors); a test that needs a model by hub id puts one there
    with ``tests.support.hf_cache.cache_random_model``."""
    global _HF_HOME
    from tests.support.hf_cache import use_offline_hub

    _HF_HOME = Path(tempfile.mkdtemp(prefix="demo-search-hf-home-"))
    use_offline_hub(_HF_HOME)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _HF_HOME is not None:
        shutil.rmtree(_HF_HOME, ignore_errors=True)


HUB_MODEL_ID = "tests-org/tiny-llama"
HUB_MODEL_POSITIONS = 16384
"""Enough positions for the paper's URIAL prompts in the byte tokenizer (one token per byte)."""


@pytest.fixture(scope="session")
def hub_model():
    """``HUB_MODEL_ID`` in the session's Hugging Face cache (``tests.support.hf_cache.CachedModel``): a random tiny
    Llama with the bundled model's byte tokenizer and ``HUB_MODEL_POSITIONS`` positions, at ``main``."""
    import workers.tiny
    from tests.support.hf_cache import cache_random_model

    return cache_random_model(HUB_MODEL_ID, workers.tiny.MODEL_DIR, max_position_embeddings=HUB_MODEL_POSITIONS)


PG_BIN_ENV = "DEMO_SEARCH_PG_BIN"
"""Directory holding ``initdb`` and ``pg_ctl``, when they are neither on PATH nor in Debian's location."""

_START_ATTEMPTS = 3


@dataclass(frozen=True)
class PostgresServer:
    """A running throwaway PostgreSQL server whose superuser ``user`` connects without a password."""

    host: str
    port: int
    user: str

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self) -> str:
        """Create a new empty database; returns its name."""
        name = f"test_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, disconnecting whatever is still connected to it."""
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        import psycopg

        conninfo = f"host={self.host} port={self.port} user={self.user} dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(sql)  # type: ignore[arg-type]


def find_postgres_bin() -> Path | None:
    """The directory of ``pg_ctl`` and ``initdb``: $DEMO_SEARCH_PG_BIN, PATH, or the newest Debian install."""
    candidates: list[str] = []
    if os.environ.get(PG_BIN_ENV):
        candidates.append(os.environ[PG_BIN_ENV])
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    debian = glob.glob("/usr/lib/postgresql/*/bin")
    candidates.extend(sorted(debian, key=lambda path: int(Path(path).parent.name.split(".")[0]), reverse=True))
    for directory in candidates:
        if (Path(directory) / "pg_ctl").is_file() and (Path(directory) / "initdb").is_file():
            return Path(directory)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _unprivileged_user() -> pwd.struct_passwd | None:
    """The account to run PostgreSQL as: ``None`` when the tests do not run as root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    pytest.skip("running as root, and neither a 'postgres' nor a 'nobody' account exists to run PostgreSQL")


class _Cluster:
    """initdb / pg_ctl on one temporary directory, run as ``user`` (through runuser) when we are root."""

    def __init__(self, bin_dir: Path, user: pwd.struct_passwd | None) -> None:
        self.bin_dir = bin_dir
        self._prefix: list[str] = []
        if user is not None:
            runuser = shutil.which("runuser")
            if runuser is None:
                pytest.skip("running as root without `runuser`, so PostgreSQL (which refuses root) cannot start")
            self._prefix = [runuser, "-u", user.pw_name, "--"]
        self.root = Path(tempfile.mkdtemp(prefix="demo-search-pg-"))
        if user is not None:
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "server.log"

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [*self._prefix, str(self.bin_dir / tool), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    def init(self, superuser: str) -> None:
        done = self.run(
            "initdb", "-D", str(self.data), "-U", superuser, "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync"
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def start(self, port: int) -> bool:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        done = self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options, "start")
        return done.returncode == 0

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else "(no server log)"

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this test session (skipped, with the reason, when it cannot exist here)."""
    pytest.importorskip("psycopg", reason="psycopg 3 is needed to talk to PostgreSQL: pip install 'demo-search[dev]'")
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH, in $DEMO_SEARCH_PG_BIN or under "
            "/usr/lib/postgresql/*/bin; install them with `apt-get install -y postgresql`"
        )
    cluster = _Cluster(bin_dir, _unprivileged_user())
    superuser = "demo_search"
    try:
        cluster.init(superuser)
        for _ in range(_START_ATTEMPTS):  # a port found free can be taken before the server binds it
            port = _free_port()
            if cluster.start(port):
                break
        else:
            raise RuntimeError(f"PostgreSQL did not start; server log:\n{cluster.log_tail()}")
        yield PostgresServer(host="127.0.0.1", port=port, user=superuser)
    finally:
        cluster.stop()
        cluster.remove()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty database on the session's PostgreSQL server, dropped after the test."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)
