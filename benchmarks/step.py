"""The paper-shaped search step the benchmarks run: URIAL rules and fixed demonstrations, a drawn candidate pool,
MT-Bench first-turn prompts, laid out ``before_fixed`` (the paper) or ``after_fixed``, tokenized as the driver does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from benchmarks.paths import DATA_DIR
from demo_search.data import load_heldout, load_pool
from demo_search.templates import UrialTemplate, build_step_tree, load_urial
from demo_search.types import Demonstration, HeldOutPrompt
from workers.tree import PrefixTree

POOL_FILES = ("urial.greedy.50.txt", "urial.random.50.txt")
LAYOUTS = ("before_fixed", "after_fixed")


@dataclass(frozen=True)
class StepData:
    rules: str
    fixed: tuple[Demonstration, ...]
    pool: tuple[Demonstration, ...]
    prompts: tuple[HeldOutPrompt, ...]


def load_step_data() -> StepData:
    """URIAL's rules and three demonstrations, the pool (deduplicated, less URIAL's own), MT-Bench first turns."""
    urial = load_urial(DATA_DIR / "urial.txt")
    fixed_ids = {d.id for d in urial.demonstrations}
    pool: dict[str, Demonstration] = {}
    for name in POOL_FILES:
        for demo in load_pool(DATA_DIR / name, "urial").items:
            if demo.id not in fixed_ids:
                pool.setdefault(demo.id, demo)
    prompts = load_heldout(DATA_DIR / "mt_bench_question.jsonl", "mtbench").items
    return StepData(urial.rules, tuple(urial.demonstrations), tuple(pool.values()), tuple(prompts))


def draw(items: tuple[Any, ...], count: int, seed: int) -> tuple[Any, ...]:
    if count > len(items):
        raise ValueError(f"cannot draw {count} of {len(items)} items")
    return tuple(random.Random(seed).sample(list(items), count))


def step_tree(
    tokenizer: Any,
    data: StepData,
    *,
    candidates: int,
    prompts: int,
    layout: str,
    with_references: bool,
    seed: int = 0,
) -> PrefixTree:
    """Greedy search's first step over ``candidates`` drawn pool items and ``prompts`` drawn MT-Bench prompts.

    ``with_references`` draws only prompts that have a reference answer and scores it (likelihood scoring);
    otherwise any prompt, without targets.
    """
    eligible = tuple(p for p in data.prompts if p.reference) if with_references else data.prompts
    return build_step_tree(
        UrialTemplate(),
        tokenizer,
        data.rules,
        selected=(),
        candidates=draw(data.pool, candidates, seed),
        fixed=data.fixed,
        prompts=draw(eligible, prompts, seed + 1),
        position=layout,
        with_targets=with_references,
    )


def unit_trees(tree: PrefixTree) -> list[PrefixTree]:
    """The driver's split: one unit per candidate, with all the step's leaves."""
    return [PrefixTree(tree.prefix_ids, (branch,), tree.leaves) for branch in tree.branches]
