"""Token lengths of items and their summary statistics."""

from __future__ import annotations

import pytest

from demo_search.data import item_tokens, summarize_lengths
from demo_search.types import Demonstration, HeldOutPrompt, Turn


def _words(text: str) -> int:
    return len(text.split())


def test_demonstration_length_counts_every_turn() -> None:
    demo = Demonstration.from_turns([Turn("a b", "c"), Turn("d", "e f g")])

    assert item_tokens(demo, _words) == 7


def test_heldout_length_counts_history_query_and_reference_when_present() -> None:
    with_reference = HeldOutPrompt.create("q1 q2", reference="r", history=[Turn("h1", "h2 h3")])
    without = HeldOutPrompt.create("q1 q2")

    assert item_tokens(with_reference, _words) == 6
    assert item_tokens(without, _words) == 2


def test_summary_statistics() -> None:
    items = [Demonstration.single("x " * n, "y") for n in (1, 2, 3, 10)]
    stats = summarize_lengths(items, _words)

    assert stats is not None
    assert (stats.count, stats.min, stats.max, stats.total) == (4, 2, 11, 20)
    assert stats.mean == pytest.approx(5.0)
    assert stats.median == 3.5


def test_summary_of_no_items_is_none() -> None:
    assert summarize_lengths([], _words) is None
