"""``demo-search dashboard``: what it says when it cannot start (no server is started in these tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support import harness


def test_without_the_dashboard_extra_it_names_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delitem(sys.modules, "demo_search.dashboard.server", raising=False)
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # importing it now raises ModuleNotFoundError

    result = harness.invoke("dashboard", "--db", harness.sqlite_url(tmp_path / "any.db"))

    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        'error: the dashboard needs the dashboard extra (missing: uvicorn): pip install "demo-search[dashboard]"'
    ]


def test_a_database_that_does_not_exist_fails_in_one_line_before_serving(tmp_path: Path) -> None:
    db = tmp_path / "missing.db"

    result = harness.invoke("dashboard", "--db", harness.sqlite_url(db), "--port", "0")

    assert result.exit_code == 1, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: SQLite database") and "does not exist" in line and not db.exists()
