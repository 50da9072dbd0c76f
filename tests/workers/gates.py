"""Engines that wait at gates made of files, so that a test can kill an actor mid-unit without a race.

A gate directory is shared by the test and every actor of a cluster started on this machine. ``Gates`` is the
test's side; ``GatedFactory`` (an ``engine_factory`` for ``Dispatcher``) builds engines that, besides computing
exactly what the real engine computes:

* hold: the first run of a unit with branch ``hold_branch``, in any process, writes ``held`` (its pid and Ray
  node id) and never returns: the test kills that actor knowing the unit is in flight;
* are *early* or *late*: an engine built before ``held`` existed is early, one built after (a restarted actor)
  is late;
* pause: an early engine starts no unit while ``pause`` exists and ``resume`` does not;
* resume: a late engine writes ``resume`` once it has finished a unit (so a paused actor goes on only after a
  restarted one has taken and finished a unit);
* stall: with ``stall_late_build``, building a late engine never returns (a restart that is never back).

Each wait ends after ``GATE_LIMIT_S`` with a ``RuntimeError`` naming the gate, so a broken test fails instead of
hanging. Nothing here decides an outcome by timing: every wait is for a file another party writes.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import ray

from workers.decoding import DecodingParams
from workers.engine import Engine
from workers.spec import EngineSpec
from workers.tree import GenerateResult, PrefixTree, ScoreResult

GATE_LIMIT_S = 300.0


def _wait_for(path: Path, why: str) -> None:
    deadline = time.monotonic() + GATE_LIMIT_S
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gate {path.name!r} never opened ({why})")
        time.sleep(0.05)


@dataclass(frozen=True)
class Held:
    """Where the held unit is in flight."""

    pid: int
    node_id: str


@dataclass(frozen=True)
class Gates:
    """The test's side of a gate directory."""

    root: Path

    def wait_until_held(self) -> Held:
        """The process (and Ray node) running the held unit, once it is running it."""
        held = self.root / "held"
        _wait_for(held, "the held unit never started")
        pid, node_id = held.read_text().split()
        return Held(int(pid), node_id)

    def pause_early_engines(self) -> None:
        (self.root / "pause").touch()


@dataclass(frozen=True)
class GatedFactory:
    """``engine_factory`` building ``GatedEngine``s over the real engine of the spec (see the module docstring)."""

    root: Path
    hold_branch: str | None = None
    stall_late_build: bool = False

    def __call__(self, spec: EngineSpec) -> Engine:
        from workers.engines import create_engine

        late = (self.root / "held").exists()
        if late and self.stall_late_build:
            _wait_for(self.root / "never", "this restart is meant never to come back")
        return GatedEngine(create_engine(spec), self, late)


class GatedEngine(Engine):
    def __init__(self, inner: Engine, factory: GatedFactory, late: bool) -> None:
        self._inner, self._gates, self._late = inner, factory, late

    @property
    def max_context(self) -> int:
        return self._inner.max_context

    def score(self, tree: PrefixTree) -> ScoreResult:
        self._before(tree)
        return self._after(self._inner.score(tree))

    def generate(self, tree: PrefixTree, params: DecodingParams) -> GenerateResult:
        self._before(tree)
        return self._after(self._inner.generate(tree, params))

    def warm(self, prefix_ids: tuple[int, ...]) -> None:
        self._inner.warm(prefix_ids)

    def close(self) -> None:
        self._inner.close()

    def _before(self, tree: PrefixTree) -> None:
        root = self._gates.root
        if self._gates.hold_branch in {branch.branch_id for branch in tree.branches} and self._claim_hold():
            _wait_for(root / "never", "the held unit's actor was meant to be killed")
        if not self._late and (root / "pause").exists():
            _wait_for(root / "resume", "no restarted actor finished a unit")

    def _after(self, result):
        if self._late:
            (self._gates.root / "resume").touch()
        return result

    def _claim_hold(self) -> bool:
        """Write ``held`` if no process has (atomically: a link fails when the name exists)."""
        draft = self._gates.root / f"held.{os.getpid()}"
        draft.write_text(f"{os.getpid()} {ray.get_runtime_context().get_node_id()}")
        try:
            os.link(draft, self._gates.root / "held")
        except FileExistsError:
            return False
        return True


# Ray workers cannot import the tests package by name, so these classes travel by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
