"""Submitting a whole search to a Ray cluster as a Ray Job (``demo-search submit``).

The job's entrypoint is ``demo-search run CONFIG --address auto`` run on the cluster, in a working directory
that Ray uploads (the config file's directory by default; ``.gitignore``/``.rayignore`` are honoured), so the
configuration and its data files must lie inside it. The database URL never appears in the entrypoint (Ray
shows entrypoints in its dashboard and logs): ``--db`` travels as ``$DEMO_SEARCH_DB`` in the job's runtime
environment, and without it the job uses the cluster's own ``$DEMO_SEARCH_DB`` (which the docker-compose
deployment sets), else the configuration's ``database.url``.

Stopping the job (``ray job stop``) interrupts the search cleanly (the CLI turns SIGTERM into an interrupt);
submitting the same configuration again continues it.
"""

from __future__ import annotations

import logging
import os
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from demo_search.config import SearchConfig
from demo_search.config.database import DB_ENV, masked_url
from demo_search.errors import DemoSearchError

logger = logging.getLogger(__name__)

DEFAULT_DASHBOARD = "http://127.0.0.1:8265"
DATABASE_KEY = "database.url"


class JobError(DemoSearchError):
    """A search could not be submitted to, or followed on, a Ray cluster."""


@dataclass(frozen=True)
class JobRequest:
    """What is sent to Ray's job server: the entrypoint, its runtime environment and the entrypoint's resources."""

    entrypoint: str
    working_dir: Path
    env_vars: Mapping[str, str] = field(default_factory=dict)
    entrypoint_num_cpus: float | None = None
    entrypoint_resources: Mapping[str, float] = field(default_factory=dict)
    search_name: str = ""

    def runtime_env(self) -> dict[str, Any]:
        env: dict[str, Any] = {"working_dir": str(self.working_dir)}
        if self.env_vars:
            env["env_vars"] = dict(self.env_vars)
        return env


def plan_job(
    config_path: Path,
    config: SearchConfig,
    *,
    overrides: Sequence[str] = (),
    name: str | None = None,
    workers: str | None = None,
    db: str | None = None,
    working_dir: Path | None = None,
    entrypoint_num_cpus: float | None = None,
    entrypoint_resources: Mapping[str, float] | None = None,
) -> JobRequest:
    """The job that runs ``config`` (already loaded from ``config_path`` with the same overrides) on a cluster.

    Raises ``JobError`` when the config file lies outside ``working_dir`` or the database would be a relative
    SQLite path (created inside the job's temporary working directory, and lost); logs a warning for each data
    file outside ``working_dir`` (the job finds it only where every node has it at that path).
    """
    working_dir = (working_dir or config_path.parent).resolve()
    if not working_dir.is_dir():
        raise JobError("cannot submit the search", [f"--working-dir {working_dir}: not a directory"])
    config_file = config_path.resolve()
    if not config_file.is_relative_to(working_dir):
        raise JobError(
            f"cannot submit search {config.name!r}: the job would not find its configuration",
            [f"{config_file} is outside the working directory {working_dir} that the job uploads; pass "
             "--working-dir with a directory that holds the config and its data"],
        )
    for path in _files_read(config):
        if not path.is_relative_to(working_dir):
            logger.warning(
                "%s is outside the working directory %s: the job finds it only if the cluster has it at that path",
                path, working_dir,
            )
    database = db
    kept_overrides = []
    for item in overrides:  # a URL set with --set moves to the environment too: it may hold a password
        key, _, value = item.partition("=")
        if key.strip() == DATABASE_KEY:
            database = value.strip()
        else:
            kept_overrides.append(item)
    if database is not None and _relative_sqlite(database):
        raise JobError(
            "cannot submit the search: its database would be lost",
            [f"--db {masked_url(database)} is a relative SQLite path: it would "
             "be created inside the job's temporary working directory; use PostgreSQL or an absolute path on "
             "storage every node shares"],
        )
    if database is None and _relative_sqlite(config.database.url) and DB_ENV not in os.environ:
        logger.warning(
            "the search will be stored in %s relative to the job's working directory unless the cluster sets $%s; "
            "pass --db to choose the database", config.database.display_url(), DB_ENV,
        )
    command = ["demo-search", "run", config_file.relative_to(working_dir).as_posix(), "--address", "auto"]
    for item in kept_overrides:
        command += ["--set", item]
    if name is not None:
        command += ["--name", name]
    if workers is not None:
        command += ["--workers", str(workers)]
    return JobRequest(
        entrypoint=shlex.join(command),
        working_dir=working_dir,
        env_vars={DB_ENV: database} if database is not None else {},
        entrypoint_num_cpus=entrypoint_num_cpus,
        entrypoint_resources=dict(entrypoint_resources or {}),
        search_name=name or config.name,
    )


def parse_resources(items: Sequence[str]) -> dict[str, float]:
    """``["head=1", "ssd=0.5"]`` -> ``{"head": 1.0, "ssd": 0.5}``; ``JobError`` names an item that is not NAME=AMOUNT."""
    resources = {}
    for item in items:
        name, _, amount = item.partition("=")
        try:
            value = float(amount)
        except ValueError:
            value = -1.0
        if not name.strip() or not value > 0:
            raise JobError("invalid --entrypoint-resource", [f"{item!r}: expected NAME=AMOUNT with AMOUNT > 0"])
        resources[name.strip()] = value
    return resources


def dashboard_address(address: str | None) -> str:
    """``address``, else ``$RAY_ADDRESS`` when it is a dashboard URL (``http://...``), else the local default."""
    if address:
        return address
    env = os.environ.get("RAY_ADDRESS", "")
    return env if env.startswith(("http://", "https://")) else DEFAULT_DASHBOARD


def job_client(address: str) -> Any:
    """A ``JobSubmissionClient`` for the dashboard at ``address``; ``JobError`` when it cannot be reached."""
    from ray.job_submission import JobSubmissionClient

    try:
        return JobSubmissionClient(address)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise JobError(
            f"cannot reach the Ray job server at {address}",
            [str(error).splitlines()[0] if str(error) else type(error).__name__,
             "start the cluster with a dashboard (ray start --head --dashboard-host 0.0.0.0) and pass its address "
             "with --address http://HEAD:8265 or $RAY_ADDRESS"],
        ) from None


def submit_job(request: JobRequest, address: str, *, submission_id: str | None = None) -> str:
    """Submit ``request`` to the job server at ``address``; returns the job's submission id."""
    client = job_client(address)
    try:
        return client.submit_job(
            entrypoint=request.entrypoint,
            runtime_env=request.runtime_env(),
            submission_id=submission_id,
            entrypoint_num_cpus=request.entrypoint_num_cpus,
            entrypoint_resources=dict(request.entrypoint_resources) or None,
            metadata={"demo_search_name": request.search_name},
        )
    except RuntimeError as error:
        raise JobError(f"the Ray job server at {address} refused the job", [str(error).splitlines()[0]]) from None


def follow_job(address: str, job_id: str) -> Iterator[str]:
    """The job's log lines as they come, until the job ends."""
    import asyncio

    client = job_client(address)
    stream = client.tail_job_logs(job_id)
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                chunk = loop.run_until_complete(anext(stream))
            except StopAsyncIteration:
                return
            yield from chunk.splitlines()
    finally:
        loop.run_until_complete(stream.aclose())
        loop.close()


def job_status(address: str, job_id: str) -> str:
    """The job's status name (``PENDING``, ``RUNNING``, ``STOPPED``, ``SUCCEEDED``, ``FAILED``)."""
    return str(job_client(address).get_job_status(job_id).value)


def _files_read(config: SearchConfig) -> list[Path]:
    """The data files of the configuration (absolute after validation)."""
    files = [config.data.pool.path, config.data.heldout.path, config.template.rules_file,
             config.template.fixed_demos_file, config.data.test.path if config.data.test else None]
    return [Path(path) for path in files if path is not None]


def _relative_sqlite(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and bool(parsed.database) and not Path(parsed.database).is_absolute()
