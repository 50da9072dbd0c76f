"""Where a search's engine actors run: connecting to Ray, and the actor pool a configuration asks for."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from demo_search.config import SearchConfig

if TYPE_CHECKING:
    from workers.dispatch import Dispatcher

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RayOptions:
    """Where the actors run: ``address`` of an existing cluster (``auto``, ``ray://HOST:PORT`` or ``HOST:PORT``);
    ``None`` means ``$RAY_ADDRESS`` when set, else a new local Ray."""

    address: str | None = None


def init_ray(options: RayOptions) -> None:
    """Connect to ``options.address`` (else ``$RAY_ADDRESS``), else start a local Ray; nothing if already connected.

    A SIGTERM while Ray starts is an interruption like any other: ``ray.init`` installs a SIGTERM handler that
    exits at once (``sys.exit``), so the half-started Ray is shut down and ``KeyboardInterrupt`` raised; and the
    application's own SIGTERM handler (the CLI turns SIGTERM, e.g. from ``ray job stop``, into a clean interrupt
    that marks the search and frees its lease) is put back whatever happens.
    """
    import ray

    if ray.is_initialized():
        return
    in_main_thread = threading.current_thread() is threading.main_thread()
    sigterm = signal.getsignal(signal.SIGTERM) if in_main_thread else None
    address = options.address or os.environ.get("RAY_ADDRESS")
    try:
        if address:
            logger.info("connecting to the Ray cluster at %s", address)
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        else:
            # "local": always a new Ray of our own, never one a `ray start` left running on this machine
            ray.init(address="local", include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    except SystemExit as exit_request:
        logger.warning("signal %s while Ray was starting: shutting it down", exit_request.code)
        shutdown_ray()
        raise KeyboardInterrupt(f"signal {exit_request.code} while Ray was starting") from None
    finally:
        if sigterm is not None:
            signal.signal(signal.SIGTERM, sigterm)


def shutdown_ray(grace_s: float = 10.0) -> None:
    """Disconnect from Ray (stopping a local Ray this process started) and end every process it left behind.

    ``ray.shutdown`` stops the processes it started itself, but the agents those start (dashboard, runtime-env)
    notice their raylet is gone only after a while; so every process still descending from this one is sent
    SIGTERM, and SIGKILL after ``grace_s`` seconds. For the CLI, which owns its process; a notebook keeps its Ray.
    """
    if "ray" not in sys.modules:
        return  # Ray was never used: nothing to stop
    import psutil
    import ray

    before = psutil.Process().children(recursive=True)  # taken first: the raylet's agents outlive it as orphans
    ray.shutdown()
    leftovers = [p for p in {*before, *psutil.Process().children(recursive=True)} if p.is_running()]
    for process in leftovers:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, alive = psutil.wait_procs(leftovers, timeout=grace_s)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    if leftovers:
        logger.info("ended %d process(es) Ray left behind (%d needed SIGKILL)", len(leftovers), len(alive))


def open_dispatcher(config: SearchConfig, ray_options: RayOptions) -> Dispatcher:
    """Connect to Ray and start the engine actors of ``config.workers`` (a ``Dispatcher``; close it when done).

    Each actor asks for ``cpus_per_worker`` CPUs, ``gpus_per_worker`` GPUs (split over a placement group of
    ``model.tensor_parallel_size`` bundles when that is > 1) and the custom ``resources``; ``count: auto``
    starts as many as the cluster can place and adds actors when nodes join.
    """
    from demo_search.assembly import actor_options, engine_spec
    from workers.dispatch import Dispatcher

    init_ray(ray_options)
    workers = config.workers
    return Dispatcher(
        engine_spec(config),
        None if workers.count == "auto" else workers.count,
        actor_options=actor_options(config),
        placement_timeout_s=workers.placement_timeout_s,
    )
