"""Output that survives pipes: ``demo-search`` run as a subprocess whose stdout and stderr are pipes (no TTY), with
``COLUMNS=80`` as a narrow terminal behind ``| cat`` would report.

Off a terminal tables are printed whole at their natural width, log records are one plain line each, no ``:code:``
becomes an emoji and no user string is read as markup. The searches are written straight into SQLite
(``stored.py``, or a bare row for names that a configuration refuses): no Ray.
"""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
from pathlib import Path

import pytest
import typer
from rich.logging import RichHandler
from typer.testing import CliRunner, Result

from db import SearchStatus, Store, TuningResult
from demo_search.cli import app
from demo_search.cli.console import OneLineFormatter, StderrHandler, log_handler
from demo_search.exports.writers import EXPORT_WRITERS
from tests.demo_search.cli.stored import StoredSearch, write_stored_search
from tests.support.harness import CLI

pytestmark = pytest.mark.hand_written_searches  # stored.py writes its search row by row, not through the driver

LONG_NAME = "a-search-with-a-name-much-longer-than-any-terminal-is-wide-" + "0123456789" * 8
ODD_NAME = "odd :smile: [red]not red[/red] :x: name"
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: .*")


def piped(*args: str) -> subprocess.CompletedProcess[str]:
    """``demo-search ARGS | cat``: stdout and stderr are pipes; the terminal it would run in is 80 columns wide."""
    env = {k: v for k, v in os.environ.items() if k not in ("DEMO_SEARCH_DB", "FORCE_COLOR", "TTY_COMPATIBLE")}
    env.update(COLUMNS="80", LINES="24")
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, env=env, timeout=120,
                          stdin=subprocess.DEVNULL)


def captured(*args: str) -> Result:
    """``demo-search ARGS`` in this process, its output captured (no TTY either), 80 columns."""
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "80", "DEMO_SEARCH_DB": None})


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> StoredSearch:
    """One SQLite database: a finished search with a long name, one named ``x`` with a tuning study, and a bare
    search whose name holds emoji codes and markup (the store takes any name; a configuration does not)."""
    root = tmp_path_factory.mktemp("piped")
    long = write_stored_search(root, name=LONG_NAME)
    x = write_stored_search(root, name="x")
    with Store.open(long.url) as store:
        store.record_tuning_result("x", TuningResult(
            study_name="demo-search:x:0123abcd", demo_ids=x.chosen, params={"temperature": 0.5}, score=0.875,
            n_trials=3, importances={"temperature": 1.0},
        ))
        store.create_search(ODD_NAME, config={"name": "odd"}, fingerprint="f", fingerprint_parts={})
        store.set_status(ODD_NAME, SearchStatus.INTERRUPTED, stop_reason="interrupted [by :x: user]")
    return long


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.split("│")]


def test_list_is_whole_when_piped(database: StoredSearch) -> None:
    result = piped("list", "--db", database.url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = [cell.strip() for cell in lines[0].split("┃")]
    assert header == ["name", "status", "steps", "evaluations", "failed", "last score", "created", "updated"]
    rows = {cells(line)[0]: cells(line)[1:] for line in lines[2:]}
    assert set(rows) == {LONG_NAME, "x", ODD_NAME}
    status, steps, evaluations, failed, score, created, updated = rows[LONG_NAME]
    assert (status, steps, evaluations, failed, score) == ("finished", "3", "0", "0", "1.0000")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", created) and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", updated)
    assert rows[ODD_NAME][0] == "interrupted"
    assert "…" not in result.stdout and max(len(line) for line in lines) > 80


def test_status_is_whole_when_piped(database: StoredSearch) -> None:
    result = piped("status", LONG_NAME, "--db", database.url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{LONG_NAME} — finished; 3 step(s) recorded"
    assert [cell.strip() for cell in lines[1].split("┃")] == [
        "step", "chosen", "score ± SE", "n", "runner-up", "score", "tried"
    ]
    rows = [cells(line) for line in lines[3:6]]
    assert rows[1] == ["1", database.chosen[0], "0.7500 ± 0.1250", "3", database.pool[0].id, "0.5000", "4 (1 skipped)"]
    assert [row[1] for row in rows] == ["base set", *database.chosen]
    assert "…" not in result.stdout


def test_a_search_named_x_is_never_an_emoji(database: StoredSearch) -> None:
    status = captured("status", "x", "--db", database.url)
    assert status.exit_code == 0, status.output
    assert status.stdout.splitlines()[0] == "x — finished; 3 step(s) recorded"
    assert "decoding tuning study demo-search:x:0123abcd: 3 completed trial(s)" in status.stdout
    listed = captured("list", "--db", database.url)
    assert any(cells(line)[0] == "x" for line in listed.stdout.splitlines())
    for output in (status.stdout, listed.stdout):
        assert "❌" not in output and "😄" not in output


def test_emoji_codes_and_markup_in_a_name_print_as_written(database: StoredSearch) -> None:
    status = captured("status", ODD_NAME, "--db", database.url)
    assert status.exit_code == 0, status.output
    assert status.stdout.splitlines()[0] == f"{ODD_NAME} — interrupted; 0 step(s) recorded"
    exported = captured("export", ODD_NAME, "--db", database.url, "-o", "-")
    assert exported.exit_code == 1 and exported.stdout == ""
    assert exported.stderr.startswith(f"error: search {ODD_NAME!r} has no recorded step yet\n"), exported.stderr


def test_every_log_record_is_one_line_off_a_terminal(database: StoredSearch) -> None:
    result = piped("--verbose", "export", "x", "--db", database.url, "-o", "-")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines and all(LOG_LINE.fullmatch(line) for line in lines), result.stderr
    assert lines[-1].endswith(" INFO demo_search.cli.report: exported search x (json) to stdout")
    assert result.stdout.startswith("{") and result.stdout.endswith("}\n")


def test_the_one_line_formatter_keeps_long_and_multi_line_records_on_one_line() -> None:
    record = logging.LogRecord("demo_search.search.driver", logging.WARNING, __file__, 1,
                               "first line\nsecond line %s", ("x" * 300,), None)
    text = OneLineFormatter().format(record)
    assert "\n" not in text
    assert LOG_LINE.fullmatch(text) and text.endswith(": first line\\nsecond line " + "x" * 300)


def test_logging_is_rich_on_a_terminal_and_plain_off_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    assert isinstance(log_handler(), RichHandler)
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    handler = log_handler()
    assert isinstance(handler, StderrHandler) and isinstance(handler.formatter, OneLineFormatter)
    swapped = io.StringIO()
    monkeypatch.setattr("sys.stderr", swapped)
    handler.emit(logging.LogRecord("demo", logging.INFO, __file__, 1, "to the stderr of the moment", (), None))
    assert swapped.getvalue().endswith("INFO demo: to the stderr of the moment\n")


def test_help_shows_flags_as_flags() -> None:
    main = captured("--help")
    assert main.exit_code == 0
    assert re.search(r"^\s+-v, --verbose\s+Debug logging\.$", main.stdout, re.MULTILINE), main.stdout
    commands = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert {"run", "status", "list", "export", "db"} <= set(commands)
    for command in commands:
        result = captured(command, "--help")
        assert result.exit_code == 0, result.output
        assert "<bool>" not in result.stdout, f"{command} --help:\n{result.stdout}"
    assert "--follow / --no-follow" in captured("submit", "--help").stdout
    assert re.search(r"--json\s+Print one JSON document", captured("status", "--help").stdout)
    assert f"-f, --format <{'|'.join(EXPORT_WRITERS)}>" in captured("export", "--help").stdout
