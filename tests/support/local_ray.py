"""Starting the tests' in-process Ray on a slow, loaded machine (test support).

``ray.init`` gives its own raylet a fixed 30 s to register with the GCS (``ray/_private/node.py``, not
configurable); on a 2-core machine beside other busy processes that is sometimes not enough, and the start fails
with "The current node timed out during startup". ``init_local_ray`` and ``start_cluster`` start again, a few times,
after such a failure. ``SLOW_MACHINE_TIMEOUTS`` raises Ray's configurable timeouts for every process of the test
session (``apply_slow_machine_timeouts``, called by ``tests/conftest.py``).
"""

from __future__ import annotations

import logging
import os
from typing import Any

logger = logging.getLogger(__name__)

SLOW_MACHINE_TIMEOUTS = {
    # `ray start` waits this long for its node to be registered in the GCS, and it is also the deadline of each
    # of those GCS calls (on a loaded machine: "Failed to get node info ... Deadline Exceeded", then "The current
    # node timed out during startup"); a job's driver waits as long for its node. Default 30.
    "RAY_raylet_start_wait_time_s": "180",
    # A raylet that cannot reach the GCS for this long exits. Default 60.
    "RAY_gcs_rpc_server_reconnect_timeout_s": "180",
    # Synchronous GCS requests. Default 60.
    "RAY_gcs_server_request_timeout_seconds": "180",
    # A worker process not registered with its raylet after this long is killed. Default 60.
    "RAY_worker_register_timeout_seconds": "180",
    # The dashboard agent must register with its raylet within this. Default 30 s.
    "RAY_agent_register_timeout_ms": "180000",
}
"""Ray's own timeouts (``RAY_<name>`` overrides its ``ray_config_def.h`` values in every process), raised for
tests: on a 2-core machine under a load of 5-7 a node's start-up can take minutes. Failure detection of a killed
node does not depend on them."""

START_ATTEMPTS = 3
_START_TIMED_OUT = "timed out during startup"


def apply_slow_machine_timeouts() -> None:
    """Put ``SLOW_MACHINE_TIMEOUTS`` in this process's environment (values already set are kept), so every Ray
    process the tests start inherits them."""
    for name, value in SLOW_MACHINE_TIMEOUTS.items():
        os.environ.setdefault(name, value)


def init_local_ray(**kwargs: Any) -> None:
    """``ray.init(address="local", **kwargs)``: always a new Ray of this process (never another run's), started
    again after a start-up time-out."""
    import ray

    _with_retries(lambda: ray.init(address="local", **kwargs), cleanup=ray.shutdown)


def start_cluster(**head_node_args: Any):
    """A ``ray.cluster_utils.Cluster`` with its head node started (again after a start-up time-out)."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=False)
    _with_retries(lambda: cluster.add_node(**head_node_args), cleanup=cluster.shutdown)
    return cluster


def _with_retries(start, *, cleanup) -> None:
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            start()
            return
        except Exception as error:  # Ray raises a bare Exception for this
            if _START_TIMED_OUT not in str(error) or attempt == START_ATTEMPTS:
                raise
            logger.warning("Ray's start timed out (attempt %d of %d); starting again", attempt, START_ATTEMPTS)
            cleanup()


__all__ = ["SLOW_MACHINE_TIMEOUTS", "apply_slow_machine_timeouts", "init_local_ray", "start_cluster"]
