"""Where a search's engine actors run: connecting to Ray, and the actor pool a configuration asks for."""

from __future__ import annotations

import logging
import os
import signal
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
    """Connect to ``options.address`` (else ``$RAY_ADDRESS``), else start a local Ray; nothing if already connected."""
    import ray

    if ray.is_initialized():
        return
    # ray.init replaces the process's SIGTERM handler with one that dies at once; keep the application's (the CLI
    # turns SIGTERM, e.g. from `ray job stop`, into a clean interrupt that marks the search and frees its lease).
    in_main_thread = threading.current_thread() is threading.main_thread()
    sigterm = signal.getsignal(signal.SIGTERM) if in_main_thread else None
    address = options.address or os.environ.get("RAY_ADDRESS")
    if address:
        logger.info("connecting to the Ray cluster at %s", address)
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    else:
        ray.init(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    if in_main_thread and sigterm is not None:
        signal.signal(signal.SIGTERM, sigterm)


def open_dispatcher(config: SearchConfig, ray_options: RayOptions) -> Dispatcher:
    """Connect to Ray and start the engine actors of ``config.workers`` (a ``Dispatcher``; close it when done).

    Each actor asks for ``cpus_per_worker`` CPUs, ``gpus_per_worker`` GPUs (split over a placement group of
    ``model.tensor_parallel_size`` bundles when that is > 1) and the custom ``resources``; ``count: auto``
    starts as many as the cluster can place and adds actors when nodes join.
    """
    from workers.dispatch import Dispatcher
    from workers.placement import ActorOptions

    init_ray(ray_options)
    workers = config.workers
    options = ActorOptions(
        num_cpus=workers.cpus_per_worker,
        num_gpus=workers.gpus_per_worker,
        resources=workers.resources,
        max_restarts=workers.max_restarts,
        tensor_parallel_size=config.model.tensor_parallel_size,
    )
    return Dispatcher(
        config.engine_spec(),
        None if workers.count == "auto" else workers.count,
        actor_options=options,
        placement_timeout_s=workers.placement_timeout_s,
    )
