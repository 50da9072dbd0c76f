"""The code's shape, checked like behaviour: no import cycle in or between the three packages, arrows pointing
down only (``workers`` and ``db`` never import ``demo_search`` or each other), and small modules."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import check_imports  # noqa: E402

MAX_MODULE_LINES = 400


def test_no_import_cycle_and_no_upward_arrow() -> None:
    graph = check_imports.import_graph()

    assert len(graph) > 100  # the walk found the packages
    assert check_imports.cycles(graph) == []
    assert check_imports.forbidden_arrows(graph) == []


def test_the_checker_finds_a_cycle_and_an_upward_arrow() -> None:
    graph = {"demo_search.a": {"demo_search.b"}, "demo_search.b": {"demo_search.a"}, "workers.x": {"demo_search.a"},
             "db.y": {"workers.x"}}

    assert check_imports.cycles(graph) == [["demo_search.a", "demo_search.b"]]
    assert check_imports.forbidden_arrows(graph) == ["db.y imports workers.x", "workers.x imports demo_search.a"]


def test_no_module_is_over_400_lines() -> None:
    sizes = {path.relative_to(REPO): len(path.read_text(encoding="utf-8").splitlines())
             for package in ("demo_search", "workers", "db") for path in (REPO / package).rglob("*.py")
             if "migrations" not in path.parts}
    assert len(sizes) > 100
    assert {str(path): n for path, n in sizes.items() if n > MAX_MODULE_LINES} == {}
