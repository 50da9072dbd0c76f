"""``demo-search run / resume / status / list``: progress as the commands show it, and their exit codes.

Real searches on the random tiny model (loglik, 6 candidates x 5 prompts, 3 steps = 80 pairs), stored in
SQLite, evaluated by transformers-engine actors on this process's Ray. ``run`` is invoked in this process, or
as a subprocess where the test interrupts it with Ctrl-C (SIGINT).
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from demo_search.version import __version__
from tests.support import harness
from tests.support.harness import SearchData, SearchDb

pytestmark = pytest.mark.slow

PAIRS = (1 + 6 + 5 + 4) * 5



@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> SearchData:
    harness.ray_address()
    model = harness.random_model_dir(tmp_path_factory.getbasetemp())
    return harness.write_search_data(tmp_path_factory.mktemp("cli") / "data", model)


def list_rows(output: str) -> dict[str, list[str]]:
    """``demo-search list``: name -> [status, steps, evaluations, failed, last score, created, updated]."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) == 8 and cells[0] != "name":
            rows[cells[0]] = cells[1:]
    return rows


def test_list_and_status_show_a_search_stopped_by_its_budget_then_continued_to_the_end(
    files: SearchData, tmp_path: Path
) -> None:
    db = tmp_path / "cli.db"
    db_url = harness.sqlite_url(db)
    config = harness.write_config(
        tmp_path / "budget.yaml", files, name="budgeted", db=db, strategy={"budget": {"max_evaluations": 20}}
    )
    result = harness.invoke("list", "--db", db_url)
    assert result.exit_code == 1, result.output  # no database yet: named, not created
    assert f"SQLite database {db} does not exist" in result.output and not db.exists()

    result = harness.invoke("run", str(config))
    assert result.exit_code == 0, result.output
    assert "search budgeted finished: budget exhausted" in result.output
    assert "this run computed 20 (set, prompt) pair(s)" in result.output  # the base set and 3 of step 1's 6 units
    listed = list_rows(harness.invoke("list", "--db", db_url).output)
    assert listed["budgeted"][:4] == ["finished", "1", "20", "0"]
    status = harness.invoke("status", "budgeted", "--db", db_url)
    assert status.exit_code == 0, status.output
    assert "budgeted — finished; 1 step(s) recorded" in status.output
    assert [row[0] for row in harness.status_rows(status.output)] == ["0"]

    # The budget is not part of the configuration's fingerprint: a larger one continues the search.
    result = harness.invoke("run", str(config), "--set", "strategy.budget.max_evaluations=1000")
    assert result.exit_code == 0, result.output
    assert "search budgeted finished: max_steps (3) reached" in result.output
    assert f"this run computed {PAIRS - 20} (set, prompt) pair(s)" in result.output
    listed = list_rows(harness.invoke("list", "--db", db_url).output)
    status = harness.invoke("status", "budgeted", "--db", db_url)
    rows = harness.status_rows(status.output)
    assert [row[0] for row in rows] == ["0", "1", "2", "3"]
    assert [row[6] for row in rows] == ["1", "6", "5", "4"]  # candidates per step
    assert listed["budgeted"][:5] == ["finished", "4", str(PAIRS), "0", rows[-1][2].split(" ± ")[0]]


def test_ctrl_c_stops_a_run_with_exit_code_130_and_resume_finishes_it(files: SearchData, tmp_path: Path) -> None:
    db_path = tmp_path / "interrupted.db"
    config = harness.write_config(tmp_path / "interrupted.yaml", files, name="interrupted", db=db_path)
    db = SearchDb(db_path, "interrupted")
    args = ["run", str(config)]
    process = harness.start_cli(args, cwd=tmp_path)
    harness.wait_until_running(db, process)
    process.send_signal(signal.SIGINT)
    run = harness.finish(process, args)

    assert run.returncode == 130, run.describe()
    assert "interrupted: everything finished so far is stored; `demo-search resume` continues" in run.stderr
    assert db.status() == "interrupted" and db.lease_owner() is None
    listed = list_rows(harness.invoke("list", "--db", harness.sqlite_url(db_path)).output)
    assert listed["interrupted"][0] == "interrupted"
    stored = db.evaluation_count()

    result = harness.invoke("resume", "interrupted", "--db", harness.sqlite_url(db_path))
    assert result.exit_code == 0, result.output
    assert f"this run computed {PAIRS - stored} (set, prompt) pair(s)" in result.output
    assert db.status() == "finished" and db.evaluation_count() == PAIRS


def test_exit_codes_of_the_commands(files: SearchData, tmp_path: Path) -> None:
    result = harness.invoke("--version")
    assert (result.exit_code, result.output.strip()) == (0, f"demo-search {__version__}")

    db = tmp_path / "empty.db"
    result = harness.invoke("db", "upgrade", "--db", harness.sqlite_url(db))
    assert result.exit_code == 0, result.output
    result = harness.invoke("list", "--db", harness.sqlite_url(db))
    assert (result.exit_code, result.output.strip()) == (0, f"no searches in {harness.sqlite_url(db)}")
    result = harness.invoke("status", "nothing", "--db", harness.sqlite_url(db))
    assert result.exit_code == 1 and "no search named 'nothing'" in result.output

    config = harness.write_config(tmp_path / "typo.yaml", files, name="typo", db=db, strategy={"max_step": 2})
    result = harness.invoke("run", str(config))
    assert result.exit_code == 1, result.output
    assert "strategy.max_step" in result.output and "max_steps" in result.output
    result = harness.invoke("run", str(tmp_path / "missing.yaml"))
    assert result.exit_code != 0 and "missing.yaml" in result.output
    result = harness.invoke("resume")
    assert result.exit_code == 2  # usage error: the search name is required
