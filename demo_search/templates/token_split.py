"""A step's prompts, each tokenized as one whole string, cut into a ``workers.tree.PrefixTree``.

The cut is made on token ids, not on text segments (DESIGN.md, "The work of one step is a prefix tree"):

* the shared prefix is the longest common token prefix of every prompt of the step;
* a branch is the longest common token prefix of its own prompts, beyond the shared prefix;
* a leaf is the rest of a prompt: its prompt ids, then (when scored) its target ids.

Every leaf keeps at least one prompt token (an engine needs a position from which to read the first target
token's log-probability, and a generation needs a last prompt token), so the prefix and a branch stop one token
before the earliest target (or end) of their prompts.

The tree shares each leaf under every branch. That holds when a leaf's remaining ids are the same after every
branch, which is the normal case: a branch ends with the same text under every leaf and real pre-tokenizers
do not merge across it differently per leaf. Where it does not hold, no tree of that shape sends every request
its whole-string ids, and ``TreeAssembler.add_branch`` raises ``TemplateError`` naming the branch and the leaf
rather than send ids the tokenizer would not produce.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from demo_search.templates.base import TemplateError
from workers.tree import Branch, Leaf, PrefixTree


@dataclass(frozen=True)
class EncodedPrompt:
    """The whole-string ids of one prompt; ``ids[target_start:]`` are its target's (``len(ids)``: no target)."""

    ids: tuple[int, ...]
    target_start: int

    def __post_init__(self) -> None:
        if not 0 <= self.target_start <= len(self.ids):
            raise ValueError(f"target_start {self.target_start} is outside 0..{len(self.ids)}")


def common_prefix_length(first: Sequence[int], second: Sequence[int], limit: int | None = None) -> int:
    """How many leading ids ``first`` and ``second`` share (at most ``limit``); slices compare in C, so a binary
    search beats a Python loop on prompts of thousands of tokens."""
    high = min(len(first), len(second)) if limit is None else min(len(first), len(second), limit)
    if tuple(first[:high]) == tuple(second[:high]):
        return high
    low = 0  # first[:low] == second[:low] and first[:high] != second[:high]
    while high - low > 1:
        middle = (low + high) // 2
        if tuple(first[:middle]) == tuple(second[:middle]):
            low = middle
        else:
            high = middle
    return low


class TreeAssembler:
    """Builds the tree branch by branch, so a step's prompts need not all be held at once.

    ``add_branch`` takes the encoded prompts of one branch, one per leaf in ``leaf_ids`` order; ``tree()`` returns
    the ``PrefixTree`` whose ``full_prompt(branch, leaf, with_target=...)`` is exactly those ids.
    """

    def __init__(self, leaf_ids: Sequence[str]) -> None:
        if not leaf_ids:
            raise ValueError("a step needs at least one leaf")
        self._leaf_ids = tuple(leaf_ids)
        self._heads: list[tuple[str, tuple[int, ...]]] = []
        self._leaves: tuple[Leaf, ...] | None = None
        self._first_branch = ""

    def add_branch(self, branch_id: str, prompts: Sequence[EncodedPrompt]) -> None:
        if len(prompts) != len(self._leaf_ids):
            raise ValueError(f"branch {branch_id!r}: {len(prompts)} prompts for {len(self._leaf_ids)} leaves")
        for leaf_id, prompt in zip(self._leaf_ids, prompts):
            if prompt.target_start == 0:
                raise TemplateError(
                    "a prompt has no tokens before its target",
                    [f"prompt {leaf_id!r} under branch {branch_id!r}: give rules text or let the tokenizer add BOS"],
                )
        end = min(prompt.target_start for prompt in prompts) - 1
        first = prompts[0].ids
        for prompt in prompts[1:]:
            end = common_prefix_length(first, prompt.ids, end)
        leaves = tuple(
            Leaf(leaf_id, p.ids[end : p.target_start], p.ids[p.target_start :])
            for leaf_id, p in zip(self._leaf_ids, prompts)
        )
        if self._leaves is None:
            self._leaves, self._first_branch = leaves, branch_id
        else:
            self._check_same_leaves(branch_id, leaves)
        self._heads.append((branch_id, first[:end]))

    def tree(self) -> PrefixTree:
        if not self._heads:
            raise ValueError("a step needs at least one branch")
        first = self._heads[0][1]
        shared = len(first)
        for _, head in self._heads[1:]:
            shared = common_prefix_length(first, head, shared)
        if shared == 0:
            raise TemplateError(
                "the prompts of a step share no first token, so they have no shared prefix",
                [
                    "the rules text is empty and the tokenizer adds no BOS token; give rules text, or set add_bos "
                    "when the model was trained with a BOS token"
                ],
            )
        branches = tuple(Branch(branch_id, head[shared:]) for branch_id, head in self._heads)
        assert self._leaves is not None
        return PrefixTree(prefix_ids=first[:shared], branches=branches, leaves=self._leaves)

    def _check_same_leaves(self, branch_id: str, leaves: tuple[Leaf, ...]) -> None:
        assert self._leaves is not None
        for mine, theirs in zip(leaves, self._leaves):
            if (mine.prompt_ids, mine.target_ids) != (theirs.prompt_ids, theirs.target_ids):
                mine_ids, their_ids = mine.prompt_ids + mine.target_ids, theirs.prompt_ids + theirs.target_ids
                at = common_prefix_length(mine_ids, their_ids)
                raise TemplateError(
                    "the tokenizer joins a branch's text with a held-out prompt's text differently under different "
                    "branches, so the prompt's tokens cannot be shared as one leaf under every branch",
                    [
                        f"prompt {mine.leaf_id!r}: after branch {branch_id!r} its ids from the branch's end are "
                        f"{list(mine_ids[at : at + 8])} at token {at}, after branch {self._first_branch!r} "
                        f"{list(their_ids[at : at + 8])}",
                        "end every demonstration with the same text (the URIAL template does), or evaluate such "
                        "candidates in separate steps",
                    ],
                )


__all__ = ["EncodedPrompt", "TreeAssembler", "common_prefix_length"]
