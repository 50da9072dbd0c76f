"""A real multi-node Ray cluster on this machine, started with ``ray start`` (test support).

Every node is its own ``ray start --block`` process in its own session, so a test can kill one node outright
(``SIGKILL`` to its whole process group: raylet, object store, workers) while the others run on, and tearing the
cluster down never touches another Ray on the machine (``ray stop`` would). Custom resources stand in for GPUs.

Built to come up on a slow, loaded machine: Ray's start-up timeouts are raised (``SLOW_MACHINE_TIMEOUTS``), and a
node whose ``ray start`` gives up is started again, as often as needed, until the set-up's deadline.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.local_ray import SLOW_MACHINE_TIMEOUTS

logger = logging.getLogger(__name__)

FAST_FAILURE_DETECTION = {"health_check_period_ms": 500, "health_check_failure_threshold": 4}
"""The head's system config: a killed node is noticed within ~2 s (4 failed checks 0.5 s apart) instead of ~15 s
(Ray's 5 checks 3 s apart). A live but slow node still has ``health_check_timeout_ms`` (10 s) to answer each check."""

HEAD_START_TIMEOUT_S = 300.0
NODES_START_TIMEOUT_S = 300.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RayNode:
    """One ``ray start --block`` process (the leader of its own process group) and its log."""

    name: str
    process: subprocess.Popen
    log: Path
    args: tuple[str, ...]

    def exited(self) -> bool:
        return self.process.poll() is not None

    def kill(self) -> None:
        """SIGKILL every process of the node (``ray start``, raylet, object store, workers), as a machine failure
        would."""
        import psutil

        try:
            processes = [psutil.Process(self.process.pid), *psutil.Process(self.process.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            processes = []
        for process in processes:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        try:  # also what is left of a node whose `ray start` already exited (its group outlives it)
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)


@dataclass
class RayNodes:
    """A head node (with the dashboard's job server) and worker nodes joined to it."""

    root: Path
    temp_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    gcs_address: str = ""
    dashboard: str = ""
    nodes: list[RayNode] = field(default_factory=list)
    starts: dict[str, int] = field(default_factory=dict)
    """How many times each node name has been started."""

    @classmethod
    def start(cls, root: Path, *, head_cpus: float, extra_env: dict[str, str] | None = None) -> RayNodes:
        """Start the head node and wait until its job server answers, starting it again (on fresh ports) if its
        ``ray start`` exits first, until ``HEAD_START_TIMEOUT_S``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        # Jobs run `demo-search` from this environment's bin directory, as an installed package would.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        # Ray 2.60 turns token authentication on for `ray start`; this throwaway cluster listens on 127.0.0.1 only,
        # and the test process (whose Ray client may already have cached "no token") must reach its job server.
        env.update(RAY_AUTH_MODE="disabled", PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
        env.update(SLOW_MACHINE_TIMEOUTS, **(extra_env or {}))
        # Ray's socket paths live under --temp-dir and must stay under 108 bytes: a short directory of its own.
        cluster = cls(root=root, env=env, temp_dir=Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp")))
        try:
            cluster._start_head(head_cpus, deadline=time.monotonic() + HEAD_START_TIMEOUT_S)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def add_worker(self, name: str, *, cpus: float, resources: dict[str, float]) -> RayNode:
        """Start a worker node joined to the head and wait until it is alive (``wait_for_nodes``).

        Worker nodes start one at a time: two ``ray start`` processes started at the same moment on one machine
        sometimes leave one raylet never registered, and its ``ray start`` then waits out the whole
        ``raylet_start_wait_time_s`` (180 s here) before it exits and is started again (measured: 190 s for two
        workers started together, 25 s one after the other)."""
        node = self._start_node(
            name, f"--address={self.gcs_address}", "--node-ip-address=127.0.0.1", f"--num-cpus={cpus}",
            f"--resources={json.dumps(resources)}",
        )
        self.wait_for_nodes(len(self.nodes))
        return node

    def wait_for_nodes(self, count: int, timeout_s: float = NODES_START_TIMEOUT_S) -> None:
        """Wait until ``count`` nodes are alive (read through the job server's view of the cluster). A worker node
        whose ``ray start`` exits (on a loaded machine it may time out registering) is started again, as often as
        needed, until ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            self._check_head()
            for node in [node for node in self.nodes[1:] if node.exited()]:
                self._restart(node)
            alive = self._alive_nodes()
            if alive >= count:
                return
            assert time.monotonic() < deadline, (
                f"{alive} of {count} Ray nodes alive after {timeout_s} s (starts per node: {self.starts}):\n"
                f"{self.logs()}"
            )
            time.sleep(0.5)

    def node(self, name: str) -> RayNode:
        return next(node for node in self.nodes if node.name == name)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.kill()
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def logs(self) -> str:
        return "\n".join(f"--- {n.name} ({n.log.name}):\n{n.log.read_text(errors='replace')[-2000:]}" for n in self.nodes)

    def _start_head(self, cpus: float, *, deadline: float) -> None:
        while True:
            port, dashboard_port = free_port(), free_port()  # either may be taken before Ray binds it: retried
            self.gcs_address = f"127.0.0.1:{port}"
            self.dashboard = f"http://127.0.0.1:{dashboard_port}"
            head = self._start_node(
                "head",
                "--head", f"--port={port}", "--node-ip-address=127.0.0.1", f"--num-cpus={cpus}",
                "--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard_port}",
                f"--temp-dir={self.temp_dir}", f"--system-config={json.dumps(FAST_FAILURE_DETECTION)}",
            )
            if self._wait_for_job_server(head, deadline):
                return
            assert time.monotonic() < deadline, f"no job server at {self.dashboard} in time:\n{self.logs()}"
            logger.warning("the head node's `ray start` exited before its job server answered; starting it again")
            head.kill()
            self.nodes.remove(head)

    def _restart(self, node: RayNode) -> None:
        logger.warning("Ray node %s exited during start-up (see %s); starting it again", node.name, node.log)
        node.kill()  # whatever its `ray start` left behind, so no half-started raylet joins later
        self.nodes.remove(node)
        self._start_node(node.name, *node.args)

    def _start_node(self, name: str, *args: str) -> RayNode:
        self.starts[name] = self.starts.get(name, 0) + 1
        log = self.root / f"{name}-{self.starts[name]}.log"
        command = [str(Path(sys.executable).parent / "ray"), "start", "--block", "--disable-usage-stats",
                   f"--dashboard-agent-listen-port={free_port()}", *args]
        with log.open("w") as out:
            process = subprocess.Popen(command, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        node = RayNode(name, process, log, args)
        self.nodes.append(node)
        return node

    def _wait_for_job_server(self, head: RayNode, deadline: float) -> bool:
        """Whether the job server answered before ``deadline``; ``False`` as soon as the head's process exits."""
        from ray.job_submission import JobSubmissionClient

        while time.monotonic() < deadline:
            if head.exited():
                return False
            try:
                JobSubmissionClient(self.dashboard).list_jobs()
                return True
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(1)
        return False

    def _check_head(self) -> None:
        assert not self.nodes[0].exited(), f"the head node exited:\n{self.logs()}"

    def _alive_nodes(self) -> int:
        from ray.util.state import list_nodes

        try:
            return len(list_nodes(address=self.dashboard, filters=[("state", "=", "ALIVE")], raise_on_missing_output=False))
        except Exception:  # noqa: BLE001 - the state API is not up yet
            return 0
