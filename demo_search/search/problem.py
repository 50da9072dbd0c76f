"""What one search works on: the prompt pieces and the held-out prompts, turned into prefix trees."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from demo_search.search.candidates import CandidateSet
from demo_search.search.turns import first_round, follow_ups, with_references
from demo_search.templates import (
    BranchPlan,
    InsertionPosition,
    PromptTemplate,
    build_prefix_tree,
    layout_step,
    longest_request,
)
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

    @cached_property
    def follow_ups(self) -> tuple[HeldOutPrompt, ...]:
        """The prompts that follow another one (MT-Bench's turn 2, see :mod:`demo_search.search.turns`)."""
        return follow_ups(self.prompts)

    def step_tree(
        self,
        candidates: Sequence[CandidateSet],
        *,
        with_targets: bool,
        prompts: Sequence[HeldOutPrompt] | None = None,
    ) -> PrefixTree:
        """One branch per candidate set (branch id = set key), sharing the longest common prefix.

        The leaves are ``prompts``; by default, the prompts a step asks at once: when scoring references
        (``with_targets``) every prompt, follow-ups filled with references; when generating, the prompts that
        follow no other (their follow-ups are asked in later rounds, see :mod:`demo_search.search.turns`).
        """
        if prompts is None:
            prompts = with_references(self.prompts) if with_targets else first_round(self.prompts)
        plans = []
        for candidate in candidates:
            added = (candidate.added,) if candidate.added is not None else ()
            parent = candidate.demo_ids[: len(candidate.demo_ids) - len(added)]
            plans.append(
                BranchPlan(candidate.key, self.demonstrations(parent), self.demonstrations(added))
            )
        layout = layout_step(plans, self.fixed, self.position)
        return build_prefix_tree(self.template, self.tokenizer, self.rules, layout, prompts, with_targets=with_targets)

    def over_context(self, tree: PrefixTree, *, with_targets: bool, max_new_tokens: int) -> dict[str, str]:
        """The branches of ``tree`` whose longest request (prompt, plus the reference when ``with_targets``, else
        ``max_new_tokens`` generated) exceeds ``max_context``, each with the reason: such candidates are skipped."""
        skipped = {}
        for branch in tree.branches:
            single = PrefixTree(tree.prefix_ids, (branch,), tree.leaves)
            need = longest_request(single, with_targets=with_targets, max_new_tokens=max_new_tokens)
            if need > self.max_context:
                what = "reference" if with_targets else f"max_tokens={max_new_tokens}"
                skipped[branch.branch_id] = (
                    f"its longest prompt needs {need} tokens (with its {what}) but the context window is "
                    f"{self.max_context}"
                )
        return skipped

    def too_long_alone(self, *, with_targets: bool, max_new_tokens: int) -> dict[str, str]:
        """Pool items that do not fit even when added alone to the base set (step 1), by item id, with the reason:
        every step of a search skips them."""
        candidates = [CandidateSet(()).extend(demo_id) for demo_id in self.pool_ids]
        tree = self.step_tree(candidates, with_targets=with_targets)
        added = {candidate.key: candidate.added for candidate in candidates}
        reasons = self.over_context(tree, with_targets=with_targets, max_new_tokens=max_new_tokens)
        return {added[key]: reason for key, reason in reasons.items()}
