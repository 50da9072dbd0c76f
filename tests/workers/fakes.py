"""Test-only pieces shared by tests of several packages: the random tiny Llama's config, a failing engine, and
work units for the dispatcher tests."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

from workers.decoding import DecodingParams
from workers.engine import Engine
from workers.tree import Branch, GenerateResult, Leaf, PrefixTree, ScoreResult
from workers.units import UnitResult, WorkUnit

# Small enough for fast CPU tests. ``initializer_range`` is larger than Llama's 0.02 so that logits spread
# out (gaps between the top tokens of ~0.1, far above fp32 noise) and greedy choices are never near-ties.
RANDOM_MODEL_CONFIG: dict[str, Any] = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=512,
    initializer_range=0.2,
)


class FailingEngine(Engine):
    """The real engine ``inner``, except that every call on a tree with a branch id in ``fail_on`` raises."""

    def __init__(self, inner: Engine, fail_on: frozenset[str]) -> None:
        self._inner, self._fail_on = inner, fail_on

    @property
    def max_context(self) -> int:
        return self._inner.max_context

    def _check(self, tree: PrefixTree) -> None:
        for branch in tree.branches:
            if branch.branch_id in self._fail_on:
                raise RuntimeError(f"injected engine failure on branch {branch.branch_id}")

    def score(self, tree: PrefixTree) -> ScoreResult:
        self._check(tree)
        return self._inner.score(tree)

    def generate(self, tree: PrefixTree, params: DecodingParams) -> GenerateResult:
        self._check(tree)
        return self._inner.generate(tree, params)

    def warm(self, prefix_ids: tuple[int, ...]) -> None:
        self._inner.warm(prefix_ids)


PREFIX = 120  # tokens of the prefix that make_units' units share


def make_units(
    count: int,
    *,
    leaves: int,
    prompt: int = 12,
    target: int = 16,
    seed: int = 0,
    prefix_ids: tuple[int, ...] | None = None,
    id_prefix: str = "u",
) -> list[WorkUnit]:
    """``count`` score units (one candidate branch each) sharing one prefix and the same leaves."""
    rng = random.Random(seed)

    def ids(n: int) -> tuple[int, ...]:
        return tuple(rng.randrange(3, 259) for _ in range(n))

    shared = prefix_ids or ((1,) + ids(PREFIX - 1))
    leaf_set = tuple(Leaf(f"q{i}", ids(prompt + i % 3), ids(target - i % 4)) for i in range(leaves))
    return [
        WorkUnit(f"{id_prefix}{i}", "score", PrefixTree(shared, (Branch(f"c{i}", ids(20 + i)),), leaf_set))
        for i in range(count)
    ]


def assert_each_once(results: Sequence[UnitResult], units: Sequence[WorkUnit]) -> None:
    counts = Counter(r.unit_id for r in results)
    assert counts == Counter(u.unit_id for u in units), f"yielded {counts}"


