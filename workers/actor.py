"""The Ray actor that hosts one engine, and the options that say where Ray may place it.

``EngineActor`` is a plain class; ``ActorOptions.remote_class()`` turns it into a Ray actor class with
the configured resources. The engine is built inside the actor process from an ``EngineSpec`` (so
nothing heavy is pickled), lazily on the first call that needs it: a restarted actor rebuilds it by
itself.

Which layer retries: the dispatcher. ``max_task_retries`` defaults to 0, so a unit lost with its actor
comes back to the dispatcher as an error, is counted, and is re-queued on whichever actor is free
first (the restarted one has to reload its model). If a caller sets ``max_task_retries > 0``, Ray
re-runs the lost call on the restarted actor by itself; every reply carries the actor's
*incarnation* (a new one per process), so the dispatcher still sees and reports the restart.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from workers.engine import Engine
from workers.spec import EngineSpec
from workers.tree import GenerateResult, ScoreResult
from workers.units import WorkUnit

logger = logging.getLogger(__name__)

EngineFactory = Callable[[EngineSpec], Engine]


@dataclass(frozen=True)
class ActorOptions:
    """Resources and fault-tolerance settings of every engine actor of a dispatcher.

    ``cpu_threads`` is the actor's torch thread count; ``None`` means ``max(1, floor(num_cpus))``, so
    actors never oversubscribe the CPUs they asked for. ``tensor_parallel_size > 1`` splits ``num_gpus``
    over that many one-node bundles of a placement group (``bundles()``): the actor runs in the first
    bundle, and the engine's own workers (vLLM's tensor-parallel ranks) in all of them. ``resources`` are custom resources
    (e.g. ``{"gpu_slot": 1}``). ``max_restarts`` is how often Ray restarts a dead actor (-1: without
    limit); ``max_task_retries`` is how often Ray itself re-runs a call lost with its actor (see the
    module docstring; 0 leaves retrying to the dispatcher). ``runtime_env`` and ``extra`` (any other
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
        import ray

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


@dataclass(frozen=True)
class RunReply:
    """What ``EngineActor.run`` returns: the engine's result and the incarnation that computed it."""

    result: ScoreResult | GenerateResult
    incarnation: str


@dataclass(frozen=True)
class ActorCounters:
    """What one actor process has done since it started (a restart starts from zero)."""

    incarnation: str
    pid: int
    engine_loads: int
    warm_calls: int
    units_run: int
    torch_threads: int


class EngineActor:
    """Hosts one engine built from ``spec`` (by ``engine_factory``, default ``create_engine``).

    ``threads`` sets torch's thread count in the actor process before any engine is built.

    Contract (calls run one at a time, in the order one caller submitted them):
    * ``ready()`` returns at once with the incarnation id: the actor was placed and started.
    * ``load()`` builds the engine if it is not built yet and returns the incarnation id; engine
      errors propagate.
    * ``warm(prefix_ids)`` calls ``Engine.warm``; ``run(unit)`` scores or generates and returns a
      ``RunReply``. Both build the engine first if needed.
    * ``shutdown()`` closes the engine (its background processes too); the actor stays usable and
      would rebuild the engine on the next call.
    """

    def __init__(
        self, spec: EngineSpec, engine_factory: EngineFactory | None = None, *, threads: int | None = None
    ) -> None:
        if threads is not None:
            torch.set_num_threads(threads)
        self._spec = spec
        self._factory = engine_factory
        self._engine: Engine | None = None
        self._incarnation = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._engine_loads = 0
        self._warm_calls = 0
        self._units_run = 0

    def ready(self) -> str:
        return self._incarnation

    def pid(self) -> int:
        return os.getpid()

    def load(self) -> str:
        self._loaded_engine()
        return self._incarnation

    def warm(self, prefix_ids: tuple[int, ...]) -> None:
        self._loaded_engine().warm(tuple(prefix_ids))
        self._warm_calls += 1

    def run(self, unit: WorkUnit) -> RunReply:
        engine = self._loaded_engine()
        if unit.kind == "score":
            result: ScoreResult | GenerateResult = engine.score(unit.tree)
        else:
            assert unit.params is not None  # WorkUnit guarantees it
            result = engine.generate(unit.tree, unit.params)
        self._units_run += 1
        return RunReply(result=result, incarnation=self._incarnation)

    def counters(self) -> ActorCounters:
        return ActorCounters(
            incarnation=self._incarnation,
            pid=os.getpid(),
            engine_loads=self._engine_loads,
            warm_calls=self._warm_calls,
            units_run=self._units_run,
            torch_threads=torch.get_num_threads(),
        )

    def shutdown(self) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            engine.close()

    def _loaded_engine(self) -> Engine:
        if self._engine is None:
            if self._factory is None:
                from workers.engines import create_engine

                self._engine = create_engine(self._spec)
            else:
                self._engine = self._factory(self._spec)
            self._engine_loads += 1
            logger.info("%s: built %s engine for %s", self._incarnation, self._spec.kind, self._spec.model)
        return self._engine


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


__all__ = ["ActorCounters", "ActorOptions", "EngineActor", "EngineFactory", "RunReply", "explain_unplaceable"]
