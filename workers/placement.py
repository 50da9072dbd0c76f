"""Where engine actors go on a Ray cluster: what each asks for (``ActorOptions``), how many fit, why one does not
fit, and the placement group of a multi-GPU actor.

Ray must be initialised by the caller. Capacity is counted on the resources Ray reports: a cluster of
nodes started with ``--num-gpus`` or custom ``--resources`` (stand-ins for GPUs in tests) is counted the
same way as one with real GPUs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import ray


@dataclass(frozen=True)
class ActorOptions:
    """Resources and fault-tolerance settings of every engine actor of a dispatcher.

    ``cpu_threads`` is the actor's torch thread count; ``None`` means ``max(1, floor(num_cpus))``, so
    actors never oversubscribe the CPUs they asked for. ``tensor_parallel_size > 1`` splits ``num_gpus``
    over that many one-node bundles of a placement group (``bundles()``): the actor runs in the first
    bundle, and the engine's own workers (vLLM's tensor-parallel ranks) in all of them. ``resources`` are
    custom resources (e.g. ``{"gpu_slot": 1}``). ``max_restarts`` is how often Ray restarts a dead actor (-1: without
    limit); ``max_task_retries`` is how often Ray itself re-runs a call lost with its actor (see
    ``workers.actor``; 0 leaves retrying to the dispatcher). ``runtime_env`` and ``extra`` (any other
    keyword of Ray's ``.options()``, e.g. ``scheduling_strategy``) are passed through unchanged.
    """

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    resources: Mapping[str, float] = field(default_factory=dict)
    max_restarts: int = 1
    max_task_retries: int = 0
    cpu_threads: int | None = None
    tensor_parallel_size: int = 1
    runtime_env: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.num_cpus < 0 or self.num_gpus < 0:
            raise ValueError(f"num_cpus and num_gpus must be >= 0, got {self.num_cpus} and {self.num_gpus}")
        bad = {k: v for k, v in self.resources.items() if not v > 0 or k in ("CPU", "GPU")}
        if bad:
            raise ValueError(f"resources must map custom names (not CPU/GPU) to amounts > 0, got {bad}")
        if self.max_restarts < -1 or self.max_task_retries < -1:
            raise ValueError(
                f"max_restarts and max_task_retries must be >= -1 (-1: no limit), "
                f"got {self.max_restarts} and {self.max_task_retries}"
            )
        if self.tensor_parallel_size < 1:
            raise ValueError(f"tensor_parallel_size must be >= 1, got {self.tensor_parallel_size}")
        if self.tensor_parallel_size > 1 and self.num_gpus < self.tensor_parallel_size:
            raise ValueError(
                f"tensor_parallel_size {self.tensor_parallel_size} needs num_gpus >= {self.tensor_parallel_size} "
                f"(one GPU per rank), got {self.num_gpus:g}"
            )
        if self.cpu_threads is not None and self.cpu_threads < 1:
            raise ValueError(f"cpu_threads must be >= 1 (or None: follow num_cpus), got {self.cpu_threads}")
        object.__setattr__(self, "resources", dict(self.resources))
        object.__setattr__(self, "extra", dict(self.extra))

    def demand(self) -> dict[str, float]:
        """What one actor asks of the node it runs on, in Ray's resource names."""
        wanted = {"CPU": float(self.num_cpus), "GPU": float(self.num_gpus), **self.resources}
        return {name: amount for name, amount in wanted.items() if amount > 0}

    def bundles(self) -> list[dict[str, float]] | None:
        """The placement group bundles of one actor (``None`` when ``tensor_parallel_size`` is 1): one per rank,
        ``num_gpus / tensor_parallel_size`` GPUs each; the first also holds the actor's CPUs and custom resources."""
        if self.tensor_parallel_size == 1:
            return None
        per_rank = {"GPU": self.num_gpus / self.tensor_parallel_size}
        first = {**({"CPU": float(self.num_cpus)} if self.num_cpus else {}), **per_rank, **self.resources}
        return [first] + [dict(per_rank) for _ in range(self.tensor_parallel_size - 1)]

    def threads(self) -> int:
        """The torch thread count of each actor."""
        return self.cpu_threads if self.cpu_threads is not None else max(1, math.floor(self.num_cpus))

    def remote_class(self, placement_group: Any = None):
        """``EngineActor`` as a Ray actor class with these options applied; with ``tensor_parallel_size > 1``,
        scheduled in bundle 0 of ``placement_group`` (made from ``bundles()``), whose other bundles the engine's
        own Ray workers take."""
        from workers.actor import EngineActor  # late: the actor module imports torch, which options alone don't need

        if (placement_group is None) != (self.tensor_parallel_size == 1):
            raise ValueError("a placement group is needed exactly when tensor_parallel_size > 1")
        options: dict[str, Any] = dict(
            num_cpus=self.num_cpus,
            num_gpus=self.num_gpus,
            resources=dict(self.resources),
            max_restarts=self.max_restarts,
            max_task_retries=self.max_task_retries,
            max_concurrency=1,
        )
        if self.runtime_env is not None:
            options["runtime_env"] = dict(self.runtime_env)
        if placement_group is not None:
            from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

            # The actor holds bundle 0's CPUs only; the engine's rank workers take the GPUs of every bundle.
            options.update(num_gpus=0, resources={})
            options["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
                placement_group, placement_group_bundle_index=0, placement_group_capture_child_tasks=True
            )
        options.update(self.extra)
        return ray.remote(EngineActor).options(**options)


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


def explain_unplaceable(demand: Mapping[str, float], nodes: list[Mapping[str, Any]]) -> str:
    """Why an actor asking for ``demand`` may not be placed, given ``ray.nodes()``.

    Names every resource no alive node offers in the amount asked; when some node could hold the actor,
    says that the resources exist but are in use.
    """
    alive = [node.get("Resources", {}) for node in nodes if node.get("Alive")]
    if not alive:
        return "the cluster has no alive node"
    if any(all(res.get(name, 0.0) >= amount for name, amount in demand.items()) for res in alive):
        return "a node offers all of it, but those resources are in use by other actors or tasks"
    problems = []
    for name, amount in demand.items():
        largest = max(res.get(name, 0.0) for res in alive)
        if largest == 0:
            problems.append(f"no alive node has any {name!r} (asked {amount:g})")
        elif largest < amount:
            problems.append(f"{name!r}: asked {amount:g}, the largest node has {largest:g}")
    if not problems:
        return "no single alive node offers all of it at once"
    return "; ".join(problems)


def format_resources(resources: Mapping[str, float]) -> str:
    """``{CPU: 0.5, GPU: 1}``: resource amounts as error messages and logs show them."""
    return "{" + ", ".join(f"{name}: {amount:g}" for name, amount in resources.items()) + "}"


def release(group: Any) -> None:
    """Give a placement group's resources back (nothing for ``None``)."""
    if group is not None:
        from ray.util.placement_group import remove_placement_group

        remove_placement_group(group)


__all__ = [
    "ActorOptions",
    "cluster_capacity",
    "explain_unplaceable",
    "fit_count",
    "format_resources",
    "release",
    "reserve",
]
