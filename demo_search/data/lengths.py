"""Token lengths of pool items and held-out prompts, for budgets and for ``demo-search validate``'s statistics.

An item's length is the sum of the tokens of its text fields, each counted on its own: every turn's query and
answer for a demonstration; the history, the query and the reference (when present) for a held-out prompt.
Template text (headings, fences, chat markup) is not counted, since it depends on the template and not on
the item; a budget therefore bounds the item's own text.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from demo_search.types import Demonstration, HeldOutPrompt

CountTokens = Callable[[str], int]
"""Number of tokens in a text, e.g. ``lambda text: len(tokenizer.encode(text, add_special_tokens=False))``."""


def item_texts(item: Demonstration | HeldOutPrompt) -> tuple[str, ...]:
    """The text fields whose tokens make up the item's length."""
    if isinstance(item, Demonstration):
        return tuple(text for turn in item.turns for text in (turn.query, turn.answer))
    history = tuple(text for turn in item.history for text in (turn.query, turn.answer))
    reference = (item.reference,) if item.reference is not None else ()
    return (*history, item.query, *reference)


def item_tokens(item: Demonstration | HeldOutPrompt, count_tokens: CountTokens) -> int:
    """The item's length in tokens (see the module docstring)."""
    return sum(count_tokens(text) for text in item_texts(item))


@dataclass(frozen=True)
class LengthStats:
    """Token-length statistics of a set of items."""

    count: int
    min: int
    mean: float
    median: float
    max: int
    total: int


def summarize_lengths(
    items: Iterable[Demonstration | HeldOutPrompt], count_tokens: CountTokens
) -> LengthStats | None:
    """min / mean / median / max / total token lengths of ``items``; ``None`` when there are no items."""
    lengths = [item_tokens(item, count_tokens) for item in items]
    if not lengths:
        return None
    return LengthStats(
        count=len(lengths),
        min=min(lengths),
        mean=statistics.fmean(lengths),
        median=statistics.median(lengths),
        max=max(lengths),
        total=sum(lengths),
    )
