"""A real multi-node Ray cluster on this machine, started with ``ray start`` (test support).

Every node is its own ``ray start --block`` process in its own session, so a test can kill one node outright
(``SIGKILL`` to its whole process group: raylet, object store, workers) while the others run on, and tearing the
cluster down never touches another Ray on the machine (``ray stop`` would). Custom resources stand in for GPUs.
"""

from __future__ import annotations

import json
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

# Node deaths are noticed within ~2 s instead of Ray's default ~30 s.
FAST_FAILURE_DETECTION = {"health_check_period_ms": 500, "health_check_failure_threshold": 4}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RayNode:
    name: str
    process: subprocess.Popen
    log: Path
    args: tuple[str, ...]

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
        try:
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

    @classmethod
    def start(cls, root: Path, *, head_cpus: float, extra_env: dict[str, str] | None = None) -> RayNodes:
        """Start the head node and wait until its job server answers."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        # Jobs run `demo-search` from this environment's bin directory, as an installed package would.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        # Ray 2.60 turns token authentication on for `ray start`; this throwaway cluster listens on 127.0.0.1 only,
        # and the test process (whose Ray client may already have cached "no token") must reach its job server.
        env.update(RAY_AUTH_MODE="disabled", PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", **(extra_env or {}))
        # Ray's socket paths live under --temp-dir and must stay under 108 bytes: a short directory of its own.
        cluster = cls(root=root, env=env, temp_dir=Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp")))
        port, dashboard_port = free_port(), free_port()
        cluster.gcs_address = f"127.0.0.1:{port}"
        cluster.dashboard = f"http://127.0.0.1:{dashboard_port}"
        try:
            cluster._start_node(
                "head",
                "--head", f"--port={port}", "--node-ip-address=127.0.0.1", f"--num-cpus={head_cpus}",
                "--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard_port}",
                f"--temp-dir={cluster.temp_dir}", f"--system-config={json.dumps(FAST_FAILURE_DETECTION)}",
            )
            cluster._wait_for_job_server()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def add_worker(self, name: str, *, cpus: float, resources: dict[str, float]) -> RayNode:
        return self._start_node(
            name, f"--address={self.gcs_address}", "--node-ip-address=127.0.0.1", f"--num-cpus={cpus}",
            f"--resources={json.dumps(resources)}",
        )

    def wait_for_nodes(self, count: int, timeout_s: float = 180) -> None:
        """Wait until ``count`` nodes are alive (read through the job server's view of the cluster). A worker node
        whose ``ray start`` gave up (on a loaded machine it may time out registering) is started once more."""
        deadline = time.monotonic() + timeout_s
        restarted: set[str] = set()
        while True:
            for node in list(self.nodes[1:]):
                if node.process.poll() is not None and node.name not in restarted:
                    restarted.add(node.name)
                    self.nodes.remove(node)
                    self._start_node(node.name, *node.args)
            alive = self._alive_nodes()
            if alive >= count:
                return
            assert time.monotonic() < deadline, f"{alive} of {count} Ray nodes alive after {timeout_s} s:\n{self.logs()}"
            time.sleep(0.5)

    def node(self, name: str) -> RayNode:
        return next(node for node in self.nodes if node.name == name)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            if node.process.poll() is None:
                node.kill()
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def logs(self) -> str:
        return "\n".join(f"--- {n.name}:\n{n.log.read_text(errors='replace')[-2000:]}" for n in self.nodes)

    def _start_node(self, name: str, *args: str) -> RayNode:
        log = self.root / f"{name}-{len(self.nodes)}.log"
        command = [str(Path(sys.executable).parent / "ray"), "start", "--block", "--disable-usage-stats",
                   f"--dashboard-agent-listen-port={free_port()}", *args]
        with log.open("w") as out:
            process = subprocess.Popen(command, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        node = RayNode(name, process, log, args)
        self.nodes.append(node)
        return node

    def _wait_for_job_server(self, timeout_s: float = 120) -> None:
        from ray.job_submission import JobSubmissionClient

        deadline = time.monotonic() + timeout_s
        while True:
            head = self.nodes[0]
            assert head.process.poll() is None, f"the head node exited:\n{self.logs()}"
            try:
                JobSubmissionClient(self.dashboard).list_jobs()
                return
            except Exception:  # noqa: BLE001 - not up yet
                assert time.monotonic() < deadline, f"no job server at {self.dashboard}:\n{self.logs()}"
                time.sleep(1)

    def _alive_nodes(self) -> int:
        from ray.util.state import list_nodes

        try:
            return len(list_nodes(address=self.dashboard, filters=[("state", "=", "ALIVE")], raise_on_missing_output=False))
        except Exception:  # noqa: BLE001 - the state API is not up yet
            return 0
