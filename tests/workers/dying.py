"""Engines that die mid-unit, as a vLLM engine whose engine core was killed or a GPU engine out of memory does.

``DyingFactory`` is an ``engine_factory`` (for ``EngineActor`` or ``Dispatcher``) building the real engine of the
spec wrapped in a ``DyingEngine``. Of the engines one factory object builds (one per actor process: each actor
holds its own copy), the first ``deaths`` die on the first unit that has branch ``die_on``: they compute part of it
(the first leaf), poison themselves (the real engine inside is closed and dropped) and raise ``how``'s error; every
later call on a dead engine raises ``EngineDeadError``. The engines built after those are healthy.

``EngineCoreKillingFactory`` does it for real with the vLLM engine: it SIGKILLs vLLM's engine core process.
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass
from typing import Literal

import ray
import torch

from workers.decoding import DecodingParams
from workers.engine import Engine
from workers.errors import EngineDeadError
from workers.spec import EngineSpec
from workers.tree import GenerateResult, PrefixTree, ScoreResult

DeathKind = Literal["engine-dead", "cuda-oom"]


def death_error(how: DeathKind) -> Exception:
    """The error a dying engine raises: its own death, or what torch raises when a GPU runs out of memory."""
    if how == "cuda-oom":
        return torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
    return EngineDeadError("injected: the engine process exited")


@dataclass
class DyingFactory:
    """Builds ``DyingEngine``s; the first ``deaths`` engines it builds die on branch ``die_on``."""

    die_on: str
    deaths: int = 1
    how: DeathKind = "engine-dead"
    built: int = 0

    def __call__(self, spec: EngineSpec) -> Engine:
        from workers.engines import create_engine

        self.built += 1
        return DyingEngine(create_engine(spec), self.die_on if self.built <= self.deaths else None, self.how)


class DyingEngine(Engine):
    def __init__(self, inner: Engine, die_on: str | None, how: DeathKind) -> None:
        self._inner: Engine | None = inner
        self._max_context = inner.max_context
        self._die_on, self._how = die_on, how

    @property
    def max_context(self) -> int:
        return self._max_context

    def score(self, tree: PrefixTree) -> ScoreResult:
        self._maybe_die(tree)
        return self._live().score(tree)

    def generate(self, tree: PrefixTree, params: DecodingParams) -> GenerateResult:
        self._maybe_die(tree)
        return self._live().generate(tree, params)

    def warm(self, prefix_ids: tuple[int, ...]) -> None:
        self._live().warm(prefix_ids)

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()
            self._inner = None

    def _live(self) -> Engine:
        if self._inner is None:
            raise EngineDeadError("injected: this engine died earlier")
        return self._inner

    def _maybe_die(self, tree: PrefixTree) -> None:
        if self._die_on not in {branch.branch_id for branch in tree.branches}:
            return
        first_leaf = PrefixTree(tree.prefix_ids, tree.branches, tree.leaves[:1])
        self._live().score(first_leaf)  # mid-unit: part of the work is done when it dies
        self.close()
        raise death_error(self._how)


@dataclass
class EngineCoreKillingFactory:
    """For the vLLM engine: the first engine it builds gets its engine core process (the ``VLLM::EngineCore`` child
    vLLM starts) killed with SIGKILL when a unit with branch ``kill_on`` reaches it, just before the real engine runs
    that unit; the real engine then meets its dead core. Later engines are left alone."""

    kill_on: str
    built: int = 0

    def __call__(self, spec: EngineSpec) -> Engine:
        from workers.engines import create_engine

        self.built += 1
        return CoreKillingEngine(create_engine(spec), self.kill_on if self.built == 1 else None)


class CoreKillingEngine(Engine):
    def __init__(self, inner: Engine, kill_on: str | None) -> None:
        self._inner, self._kill_on = inner, kill_on

    @property
    def max_context(self) -> int:
        return self._inner.max_context

    def score(self, tree: PrefixTree) -> ScoreResult:
        self._maybe_kill(tree)
        return self._inner.score(tree)

    def generate(self, tree: PrefixTree, params: DecodingParams) -> GenerateResult:
        self._maybe_kill(tree)
        return self._inner.generate(tree, params)

    def warm(self, prefix_ids: tuple[int, ...]) -> None:
        self._inner.warm(prefix_ids)

    def close(self) -> None:
        self._inner.close()

    def _maybe_kill(self, tree: PrefixTree) -> None:
        if self._kill_on is None or self._kill_on not in {branch.branch_id for branch in tree.branches}:
            return
        import psutil

        self._kill_on = None
        cores = [p for p in psutil.Process().children(recursive=True) if p.name().startswith("VLLM")]
        if not cores:
            raise RuntimeError("no VLLM::EngineCore process under this actor to kill")
        for core in cores:
            core.send_signal(signal.SIGKILL)
        psutil.wait_procs(cores, timeout=30)


# Ray workers cannot import the tests package by name, so these classes travel by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
