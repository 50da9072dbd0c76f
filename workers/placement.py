"""Where engine actors go on a Ray cluster: how many fit, and the placement group of a multi-GPU actor.

Ray must be initialised by the caller. Capacity is counted on the resources Ray reports: a cluster of
nodes started with ``--num-gpus`` or custom ``--resources`` (stand-ins for GPUs in tests) is counted the
same way as one with real GPUs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import ray

from workers.actor import ActorOptions


def fit_count(demand: Mapping[str, float], resources: Mapping[str, float]) -> int:
    """How many copies of ``demand`` fit in ``resources`` (0 when a resource is missing or too small)."""
    if not demand:
        raise ValueError("an actor must ask for at least one resource, or any number of them would fit")
    # The small epsilon absorbs Ray's fixed-point rounding of fractional amounts (0.1 + 0.2 reported as 0.3000001).
    return min(math.floor(resources.get(name, 0.0) / amount + 1e-9) for name, amount in demand.items())


def cluster_capacity(options: ActorOptions) -> int:
    """How many more actors with ``options`` the cluster can place right now.

    The smaller of two counts: the actors each alive node could hold on its own (an actor, or a tensor-parallel
    placement group, never spans nodes) and the actors the cluster's currently available resources hold in
    total (so what other actors, tasks or the job's driver already use is left alone).
    """
    demand = options.demand()
    per_node = sum(fit_count(demand, node.get("Resources", {})) for node in ray.nodes() if node.get("Alive"))
    return min(per_node, fit_count(demand, ray.available_resources()))


def reserve(options: ActorOptions) -> Any:
    """A placement group for one actor with ``options.tensor_parallel_size > 1`` (``None`` otherwise): its
    ``bundles()`` packed on one node (``STRICT_PACK``: tensor-parallel ranks exchange activations every layer).
    Ray places it asynchronously; the actor scheduled in it starts once it is placed."""
    bundles = options.bundles()
    if bundles is None:
        return None
    from ray.util.placement_group import placement_group

    return placement_group(bundles, strategy="STRICT_PACK")


def release(group: Any) -> None:
    """Give a placement group's resources back (nothing for ``None``)."""
    if group is not None:
        from ray.util.placement_group import remove_placement_group

        remove_placement_group(group)


__all__ = ["cluster_capacity", "fit_count", "release", "reserve"]
