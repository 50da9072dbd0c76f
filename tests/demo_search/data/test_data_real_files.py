"""The loaders on the paper's real files (data/icl-alignment): MT-Bench questions and URIAL prompt files."""

from __future__ import annotations

import json
from pathlib import Path

from demo_search.data import load_heldout, load_pool, summarize_lengths
from demo_search.templates.urial import load_urial


def _questions(paper_data: Path) -> list[dict]:
    lines = (paper_data / "mt_bench_question.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_mt_bench_first_turns(paper_data: Path) -> None:
    path = paper_data / "mt_bench_question.jsonl"
    result = load_heldout(path)

    assert result.ok and not result.problems
    assert (result.format, result.format_detected) == ("mtbench", True)
    questions = _questions(paper_data)
    assert len(result.items) == len(questions) == 80
    assert [p.query for p in result.items] == [q["turns"][0] for q in questions]
    assert [p.category for p in result.items] == [q["category"] for q in questions]
    assert len({p.id for p in result.items}) == 80
    with_reference = [q for q in questions if q.get("reference") and q["reference"][0].strip()]
    assert sum(p.reference is not None for p in result.items) == len(with_reference)
    assert all(not p.history for p in result.items)
    assert result.items[0].source == f"{path}:1"


def test_mt_bench_both_turns(paper_data: Path) -> None:
    result = load_heldout(paper_data / "mt_bench_question.jsonl", turns="both")
    questions = _questions(paper_data)

    assert result.ok and not result.problems
    assert len(result.items) == 160
    first_turns, second_turns = result.items[0::2], result.items[1::2]
    assert [(p.query, p.follows) for p in first_turns] == [(q["turns"][0], None) for q in questions]
    assert [(p.query, p.follows, p.history) for p in second_turns] == [
        (q["turns"][1], first.id, ()) for q, first in zip(questions, first_turns)
    ]
    assert [p.reference for p in second_turns] == [(q.get("reference") or ["", ""])[1] or None for q in questions]
    assert [p.category for p in second_turns] == [q["category"] for q in questions]


def test_mt_bench_as_pool_reports_questions_without_reference(paper_data: Path) -> None:
    path = paper_data / "mt_bench_question.jsonl"
    result = load_pool(path)
    questions = _questions(paper_data)

    assert not result.ok
    missing = [p for p in result.errors if p.field == "reference"]
    assert [p.line for p in missing] == [i for i, q in enumerate(questions, start=1) if "reference" not in q]
    empty = [p for p in result.errors if p.field == "reference[0]"]
    assert all("is missing or empty" in p.message for p in empty)
    assert len(result.items) + len(missing) + len(empty) == 80


def test_urial_greedy_50_as_pool(paper_data: Path) -> None:
    path = paper_data / "urial.greedy.50.txt"
    result = load_pool(path)

    assert result.ok and not result.problems
    assert (result.format, len(result.items)) == ("urial", 50)
    assert result.items == load_urial(path).demonstrations
    assert load_pool(path, "urial").items == result.items


def test_urial_files_share_ids_for_the_same_demonstrations(paper_data: Path) -> None:
    base = [d.id for d in load_pool(paper_data / "urial.txt").items]
    best = [d.id for d in load_pool(paper_data / "urial.plus.best_4-5-6.txt").items]
    greedy = {d.id for d in load_pool(paper_data / "urial.greedy.50.txt").items}

    assert len(base) == 3 and len(best) == 6
    assert best[3:] == base  # the paper's order: searched 4th, 5th, 6th, then URIAL's three
    assert set(base) <= greedy


def test_urial_file_as_heldout_prompts(paper_data: Path) -> None:
    result = load_heldout(paper_data / "urial.random.50.txt")

    assert result.ok and len(result.items) == 50
    assert all(p.reference for p in result.items)


def test_length_summary_of_the_urial_pool(paper_data: Path) -> None:
    items = load_pool(paper_data / "urial.greedy.50.txt").items
    stats = summarize_lengths(items, lambda text: len(text.encode("utf-8")))

    lengths = sorted(len(d.query.encode()) + len(d.answer.encode()) for d in items)
    assert stats is not None
    assert (stats.count, stats.min, stats.max, stats.total) == (50, lengths[0], lengths[-1], sum(lengths))
    assert stats.median == (lengths[24] + lengths[25]) / 2
