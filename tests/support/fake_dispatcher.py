"""An in-process stand-in for ``workers.dispatch.Dispatcher``: scores each unit from what its prompts contain.

``FakeDispatcher`` implements the driver's ``UnitDispatcher`` protocol (``run(units)`` yields one
``workers.units.UnitResult`` per unit, in unit order) without Ray or a model. It decodes each unit's shared prefix
and branch with the search's tokenizer, finds which toy demonstrations the prompt holds (their queries read
``pick <label>``, see ``tests.support.toy_search``), and looks the set's per-prompt scores up in a ``ScoreTable``.
Nothing depends on the unit's id or the set key: a set is scored from its prompt text, as a model would.

It records every (set, prompt) pair it computed, can fail chosen sets the way the real dispatcher reports a unit
that failed all its attempts, and can "die" after a number of results, which leaves the driver exactly where a
killed driver process leaves the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workers.tree import (
    GenerateResult,
    LeafGeneration,
    LeafScore,
    PrefixTree,
    ScoreResult,
    TokenCounts,
    call_stats,
)
from workers.units import UnitResult, WorkUnit

PICK = re.compile(r"pick (\w+)")
"""How a toy demonstration's query shows in a prompt: ``pick <label>``."""


class DispatcherKilled(RuntimeError):
    """Raised by a ``FakeDispatcher`` that was told to die: the driver stops as if its process were killed."""


@dataclass(frozen=True)
class ScoreTable:
    """The score a demonstration set gets on each held-out prompt.

    ``values`` maps a set, written as its labels sorted and joined (``""`` for the empty base set, ``"ab"`` for
    a set holding ``a`` and ``b`` in either order), to its mean score; sets not listed get ``default``. On the
    ``i``-th prompt a set scores its value plus ``spread[i % len(spread)]``: with a spread that sums to zero over
    the prompts, the mean is the value, and the standard error is not zero. Keep values and spread dyadic
    (0.5, 0.125, ...) so that every sum is exact and equal values tie exactly.
    """

    values: Mapping[str, float]
    default: float = 0.0
    spread: tuple[float, ...] = (0.0,)

    def value(self, labels: Sequence[str]) -> float:
        return self.values.get("".join(sorted(labels)), self.default)

    def score(self, labels: Sequence[str], prompt_index: int) -> float:
        return self.value(labels) + self.spread[prompt_index % len(self.spread)]


@dataclass(frozen=True)
class ComputedPair:
    """One (set, prompt) pair the fake computed: the set's labels in prompt order and the held-out prompt id."""

    labels: tuple[str, ...]
    prompt_id: str


@dataclass
class FakeDispatcher:
    """Computes units in this process from ``table``; see the module docstring.

    ``prompt_ids`` are the search's held-out prompt ids in order (a prompt's index picks its ``spread``).
    ``fail`` holds label strings (as in ``ScoreTable.values``) of sets whose units fail; ``die_after`` makes
    the fake raise ``DispatcherKilled`` instead of yielding its ``die_after + 1``-th result (counted over all its
    ``run`` calls); ``answer`` gives the generated text of a ``generate`` unit from (labels, prompt id).
    """

    tokenizer: Any
    table: ScoreTable
    prompt_ids: Sequence[str]
    fail: Collection[str] = ()
    die_after: int | None = None
    answer: Callable[[tuple[str, ...], str], str] = lambda labels, prompt_id: "answer " + "".join(labels)
    computed: list[ComputedPair] = field(default_factory=list)
    units_received: int = 0
    results_yielded: int = 0

    def run(self, units: Sequence[WorkUnit]) -> Iterator[UnitResult]:
        for unit in units:
            if self.die_after is not None and self.results_yielded >= self.die_after:
                raise DispatcherKilled(f"the fake dispatcher died after {self.results_yielded} result(s)")
            self.units_received += 1
            self.results_yielded += 1
            yield self._run_one(unit)

    def labels_of(self, tree: PrefixTree) -> tuple[str, ...]:
        """The labels of the demonstrations in the tree's prompts (prefix and its single branch), in order."""
        (branch,) = tree.branches
        text = self.tokenizer.decode(list(tree.prefix_ids + branch.token_ids), skip_special_tokens=True)
        return tuple(PICK.findall(text))

    def _run_one(self, unit: WorkUnit) -> UnitResult:
        labels = self.labels_of(unit.tree)
        if "".join(sorted(labels)) in self.fail:
            error = f"RuntimeError: injected failure of the set {''.join(labels) or 'base'}"
            return UnitResult(unit.unit_id, ok=False, result=None, error=error, attempts=3, actor="fake")
        (branch,) = unit.tree.branches
        counts = []
        items: list[LeafScore | LeafGeneration] = []
        for leaf in unit.tree.leaves:
            index = list(self.prompt_ids).index(leaf.leaf_id)
            length = len(unit.tree.full_prompt(branch, leaf, with_target=unit.kind == "score"))
            tokens = TokenCounts(prompt_tokens=length, computed_tokens=length, cached_tokens=0)
            counts.append(tokens)
            self.computed.append(ComputedPair(labels, leaf.leaf_id))
            if unit.kind == "score":
                items.append(LeafScore(branch.branch_id, leaf.leaf_id, (self.table.score(labels, index),), tokens))
            else:
                text = self.answer(labels, leaf.leaf_id)
                items.append(LeafGeneration(branch.branch_id, leaf.leaf_id, text, (), "stop", tokens))
        stats = call_stats(0.0, counts)
        result = ScoreResult(tuple(items), stats) if unit.kind == "score" else GenerateResult(tuple(items), stats)
        return UnitResult(unit.unit_id, ok=True, result=result, error=None, attempts=1, actor="fake")
