"""Checking that every request of a prefix tree fits an engine's context window, before any compute."""

from __future__ import annotations

from workers.errors import ContextLengthError
from workers.tree import PrefixTree

_LISTED = 5


def check_fits_context(tree: PrefixTree, *, max_context: int, with_target: bool, max_tokens: int = 0) -> None:
    """Raise ``ContextLengthError`` naming the requests (branch, leaf) whose tokens exceed ``max_context``.

    A request needs prefix + branch + leaf prompt tokens, plus its target tokens when ``with_target`` (scoring),
    plus ``max_tokens`` (generation).
    """
    too_long = []
    for branch in tree.branches:
        for leaf in tree.leaves:
            target = len(leaf.target_ids) if with_target else 0
            need = len(tree.prefix_ids) + len(branch.token_ids) + len(leaf.prompt_ids) + target + max_tokens
            if need > max_context:
                parts = (
                    f"prefix {len(tree.prefix_ids)} + branch {len(branch.token_ids)} + leaf {len(leaf.prompt_ids)}"
                    + (f" + target {target}" if with_target else "")
                    + (f" + max_tokens {max_tokens}" if max_tokens else "")
                )
                too_long.append(f"branch {branch.branch_id!r} + leaf {leaf.leaf_id!r} needs {need} tokens ({parts})")
    if too_long:
        listed = "; ".join(too_long[:_LISTED])
        if len(too_long) > _LISTED:
            listed += f"; and {len(too_long) - _LISTED} more"
        raise ContextLengthError(
            f"{len(too_long)} of {len(tree.branches) * len(tree.leaves)} requests exceed max_context={max_context}: "
            f"{listed}. Shorten the prompts or demonstrations, lower max_tokens, or use a model with a longer context."
        )
