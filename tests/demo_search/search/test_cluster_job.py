"""Searches submitted as Ray Jobs to a real multi-node cluster (``ray start``: a head and two worker nodes).

The worker nodes offer a custom resource ``accelerator`` standing in for GPUs, and the engine actors ask for it,
so they run on the worker nodes only while the drivers (the jobs) run on the head. The store is PostgreSQL, as in
the docker-compose deployment; the URL reaches the jobs through their environment, never their entrypoint.
The tests run in order: an uninterrupted reference; a job stopped with ``ray job stop`` and submitted again; a
job whose worker node is killed mid-search (last, since the node stays dead).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from ray.job_submission import JobStatus, JobSubmissionClient

from tests.conftest import PostgresServer
from tests.demo_search.search.ray_nodes import RayNodes
from tests.support import harness

pytestmark = pytest.mark.slow

ACCELERATOR = "accelerator"
JOB_TIMEOUT_S = 300
STEP_1_STARTED = 24 + 1  # the base set's 24 pairs, and one unit of step 1
TERMINAL = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayNodes]:
    nodes = RayNodes.start(tmp_path_factory.mktemp("ray-cluster"), head_cpus=2)
    try:
        nodes.add_worker("worker-1", cpus=1, resources={ACCELERATOR: 1})
        nodes.add_worker("worker-2", cpus=1, resources={ACCELERATOR: 1})
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture(scope="module")
def database(postgres_server: PostgresServer) -> Iterator[str]:
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Path:
    """The search's config and data in one directory (what the job uploads), with paths relative to the config."""
    workdir = tmp_path_factory.mktemp("job-workdir")
    files = harness.write_search_data(workdir / "data", model_dir, per_rule=8, prompts=24)
    # Generated answers (the random model writes all max_tokens) make each unit take a moment, so that a node
    # killed mid-search has work in flight. Every search here repeats the reference search in the same database:
    # with the evaluation ledger on they would compute nothing, so it is off (these tests are about what a stopped
    # job or a dead node costs; tests/demo_search/search/test_ledger.py tests the ledger).
    config = harness.config_dict(
        files, name="cluster", db=workdir / "unused.db",
        scorer={"kind": "match", "match": {"mode": "contains"}}, decoding={"max_tokens": 24},
        workers={"count": "auto", "cpus_per_worker": 0.5, "resources": {ACCELERATOR: 1}},
        strategy={"reuse_evaluations": False},
    )
    del config["database"]
    for section, key in (("template", "rules_file"), ("template", "fixed_demos_file")):
        config[section][key] = str(Path(config[section][key]).relative_to(workdir))
    for key in ("pool", "heldout"):
        config["data"][key]["path"] = str(Path(config["data"][key]["path"]).relative_to(workdir))
    path = workdir / "search.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


class StoredSearch:
    """Read-only SQL over what the drivers stored in PostgreSQL."""

    def __init__(self, url: str, name: str) -> None:
        self.engine = sa.create_engine(url)
        self.name = name

    def _rows(self, sql: str) -> list[tuple]:
        with self.engine.connect() as connection:
            return [tuple(r) for r in connection.execute(sa.text(sql), {"name": self.name})]

    def _where(self) -> str:
        return "search_id = (SELECT id FROM searches WHERE name = :name)"

    def evaluation_count(self) -> int:
        try:
            return self._rows(f"SELECT COUNT(*) FROM evaluations WHERE {self._where()}")[0][0]
        except sa.exc.ProgrammingError:  # the first driver is still creating the schema
            return 0

    def duplicate_pairs(self) -> list[tuple]:
        return self._rows(f"SELECT set_key, prompt_id, COUNT(*) FROM evaluations WHERE {self._where()} "
                          "GROUP BY set_key, prompt_id HAVING COUNT(*) > 1")

    def trajectory(self) -> list[tuple]:
        return self._rows("SELECT step_index, set_key, item_id, score, stderr, runner_up_set_key, runner_up_score "
                          f"FROM steps WHERE {self._where()} ORDER BY step_index")

    def status(self) -> str:
        return self._rows("SELECT status FROM searches WHERE name = :name")[0][0]

    def lease_owners(self) -> list[str]:
        return [owner for (owner,) in self._rows(f"SELECT owner FROM leases WHERE {self._where()}")]


def submit(cluster: RayNodes, config_file: Path, database: str, name: str, *extra: str) -> str:
    result = harness.invoke("submit", str(config_file), "--address", cluster.dashboard, "--db", database,
                            "--name", name, *extra)
    assert result.exit_code == 0, result.output
    match = re.search(r"as Ray job (\S+) to", result.output)
    assert match, result.output
    return match.group(1)


def wait_for(cluster: RayNodes, job_id: str, statuses: set[JobStatus], timeout_s: float = JOB_TIMEOUT_S) -> JobStatus:
    client = JobSubmissionClient(cluster.dashboard)
    deadline = time.monotonic() + timeout_s
    while (status := client.get_job_status(job_id)) not in statuses:
        assert status not in TERMINAL, f"job {job_id} ended {status}:\n{client.get_job_logs(job_id)[-4000:]}"
        assert time.monotonic() < deadline, f"job {job_id} still {status} after {timeout_s} s"
        time.sleep(0.2)
    return status


def wait_for_evaluations(search: StoredSearch, count: int, job_id: str, cluster: RayNodes) -> None:
    client = JobSubmissionClient(cluster.dashboard)
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while search.evaluation_count() < count:
        assert client.get_job_status(job_id) not in TERMINAL, client.get_job_logs(job_id)[-4000:]
        assert time.monotonic() < deadline, f"fewer than {count} evaluations stored after {JOB_TIMEOUT_S} s"
        time.sleep(0.1)


def logs(cluster: RayNodes, job_id: str) -> str:
    return JobSubmissionClient(cluster.dashboard).get_job_logs(job_id)


@pytest.fixture(scope="module")
def reference(cluster: RayNodes, config_file: Path, database: str) -> StoredSearch:
    """An uninterrupted search, submitted with --follow (which waits and reports the job's end)."""
    result = harness.invoke("submit", str(config_file), "--address", cluster.dashboard, "--db", database,
                            "--name", "reference", "--follow")
    assert result.exit_code == 0, result.output
    assert "SUCCEEDED" in result.output
    return StoredSearch(database, "reference")


def test_a_submitted_search_runs_on_the_worker_nodes_and_keeps_the_database_url_out_of_the_entrypoint(
    cluster, reference, database
):
    assert reference.status() == "finished"
    assert [row[0] for row in reference.trajectory()] == [0, 1, 2, 3]
    assert reference.duplicate_pairs() == []
    client = JobSubmissionClient(cluster.dashboard)
    (job,) = [j for j in client.list_jobs() if (j.metadata or {}).get("demo_search_name") == "reference"]
    assert job.entrypoint.startswith("demo-search run search.yaml --address auto")
    assert "postgresql" not in job.entrypoint and "postgresql" not in (job.message or "")


def test_a_stopped_job_leaves_an_interrupted_search_that_a_new_submission_finishes_identically(
    cluster, config_file, database, reference
):
    search = StoredSearch(database, "stopped")
    first = submit(cluster, config_file, database, "stopped")
    wait_for_evaluations(search, STEP_1_STARTED, first, cluster)
    assert JobSubmissionClient(cluster.dashboard).stop_job(first)
    wait_for(cluster, first, {JobStatus.STOPPED}, timeout_s=60)
    stored_at_stop = search.evaluation_count()
    assert search.status() == "interrupted", logs(cluster, first)[-3000:]  # SIGTERM handled: lease released
    assert search.lease_owners() == []
    total = reference.evaluation_count()
    assert STEP_1_STARTED <= stored_at_stop < total

    second = submit(cluster, config_file, database, "stopped")
    wait_for(cluster, second, {JobStatus.SUCCEEDED})

    assert search.trajectory() == reference.trajectory()
    assert search.duplicate_pairs() == [] and search.evaluation_count() == total
    computed = re.search(r"this run computed (\d+) \(set, prompt\) pair", logs(cluster, second))
    assert computed and int(computed.group(1)) == total - stored_at_stop


def test_a_worker_node_killed_mid_search_costs_nothing(cluster, config_file, database, reference):
    search = StoredSearch(database, "node-killed")
    job = submit(cluster, config_file, database, "node-killed")
    wait_for_evaluations(search, STEP_1_STARTED, job, cluster)
    killed_at = search.evaluation_count()
    cluster.node("worker-2").kill()  # worker-2, with its engine actor mid-unit or about to get one
    wait_for(cluster, job, {JobStatus.SUCCEEDED})

    # Whether the kill caught a unit in flight (then re-queued) or between units is a matter of timing; what must
    # hold either way: the search finished on the surviving node, nothing lost, nothing stored twice.
    assert killed_at < reference.evaluation_count(), "the node was killed after the search had stored everything"
    assert search.status() == "finished" and search.lease_owners() == []
    assert search.trajectory() == reference.trajectory()
    assert search.duplicate_pairs() == [] and search.evaluation_count() == reference.evaluation_count()
