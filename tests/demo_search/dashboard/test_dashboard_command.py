"""``demo-search dashboard``: what it says when it cannot start, and that it needs no engine package (no server is
started in these tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import harness

REPO = Path(__file__).resolve().parents[3]


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


LIGHT_DASHBOARD = """
import sys

class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {heavy!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

sys.meta_path.insert(0, Missing())
from starlette.testclient import TestClient
from demo_search.dashboard.app import create_app
from demo_search.dashboard.source import StoreSource

client = TestClient(create_app(StoreSource(sys.argv[1])))
for path in sys.argv[2:]:
    response = client.get(path)
    print(path, response.status_code)
"""


@pytest.mark.hand_written_searches  # stored.py writes its search row by row, not through the driver
def test_the_dashboard_needs_only_the_light_core_and_its_own_extra(tmp_path: Path) -> None:
    from tests.demo_search.cli.stored import write_stored_search
    from tests.demo_search.cli.test_light_core import HEAVY

    stored = write_stored_search(tmp_path / "light")
    from db import Store

    with Store.open(stored.url, read_only=True) as store:
        chosen = store.steps(stored.name)[-1].set_key
        prompt = store.heldout_prompts(stored.name)[0].item_id
    paths = ["/", f"/search?name={stored.name}", f"/candidate?name={stored.name}&set={chosen}",
             f"/pair?name={stored.name}&set={chosen}&prompt={prompt}"]

    done = subprocess.run(
        [sys.executable, "-c", LIGHT_DASHBOARD.format(heavy=HEAVY), stored.url, *paths],
        cwd=tmp_path, text=True, capture_output=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"{path} 200" for path in paths]
