"""What one search works on: the prompt pieces and the held-out prompts, turned into prefix trees."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from demo_search.search.candidates import CandidateSet
from demo_search.templates import BranchPlan, InsertionPosition, PromptTemplate, build_prefix_tree, layout_step
from demo_search.types import Demonstration, HeldOutPrompt
from workers.tree import PrefixTree


@dataclass(frozen=True)
class SearchProblem:
    """The template, tokenizer, rules, fixed demonstrations, pool (in file order) and held-out prompts."""

    template: PromptTemplate
    tokenizer: Any
    rules: str
    fixed: tuple[Demonstration, ...]
    pool: tuple[Demonstration, ...]
    prompts: tuple[HeldOutPrompt, ...]
    position: InsertionPosition
    max_context: int

    @cached_property
    def demos_by_id(self) -> dict[str, Demonstration]:
        return {demo.id: demo for demo in self.pool}

    @cached_property
    def prompts_by_id(self) -> dict[str, HeldOutPrompt]:
        return {prompt.id: prompt for prompt in self.prompts}

    @property
    def pool_ids(self) -> tuple[str, ...]:
        return tuple(demo.id for demo in self.pool)

    def demonstrations(self, demo_ids: Sequence[str]) -> tuple[Demonstration, ...]:
        return tuple(self.demos_by_id[i] for i in demo_ids)

    def step_tree(self, candidates: Sequence[CandidateSet], *, with_targets: bool) -> PrefixTree:
        """One branch per candidate set (branch id = set key), sharing the longest common prefix."""
        plans = []
        for candidate in candidates:
            added = (candidate.added,) if candidate.added is not None else ()
            parent = candidate.demo_ids[: len(candidate.demo_ids) - len(added)]
            plans.append(
                BranchPlan(candidate.key, self.demonstrations(parent), self.demonstrations(added))
            )
        layout = layout_step(plans, self.fixed, self.position)
        return build_prefix_tree(self.template, self.tokenizer, self.rules, layout, self.prompts, with_targets=with_targets)
