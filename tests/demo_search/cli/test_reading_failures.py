"""``export -o`` to a place it cannot write, and ``list`` / ``status`` / ``export`` on a damaged database: one line
naming the path or database and the reason, exit code 1, no traceback, and nothing changed on disk (byte for byte).

Searches are written straight into a SQLite store (``stored.py``): no model, no Ray.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from demo_search.cli import app
from tests.demo_search.cli.stored import StoredSearch, damage_table, write_stored_search

pytestmark = pytest.mark.hand_written_searches  # stored.py writes its search row by row, not through the driver

WIDE = "250"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": WIDE, "DEMO_SEARCH_DB": None})


def snapshot(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every path under ``root``: its permission bits and, for a file, its bytes."""
    return {
        str(path.relative_to(root)): (path.stat().st_mode & 0o7777, path.read_bytes() if path.is_file() else None)
        for path in sorted(root.rglob("*"))
    }


def assert_one_line_failure(result: Result, *fragments: str) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # not an uncaught exception
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture()
def stored(tmp_path: Path) -> StoredSearch:
    return write_stored_search(tmp_path / "search")


def export(search: StoredSearch, output: Path, *options: str) -> Result:
    return invoke("export", search.name, "-o", str(output), "--db", search.url, *options)


@pytest.fixture()
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A directory this process cannot write into, holding one file (``old.json``).

    As root, mode 0555 does not stop a write: the directory is then made immutable (``chattr +i``), or the test is
    skipped where that is not possible.
    """
    directory = tmp_path / "read-only"
    directory.mkdir()
    (directory / "old.json").write_text('{"old": true}\n', encoding="utf-8")
    directory.chmod(0o555)
    immutable = False
    if os.access(directory, os.W_OK):
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", str(directory)], capture_output=True).returncode != 0:
            directory.chmod(0o755)
            pytest.skip("cannot make a directory read-only for this user (root without chattr +i)")
        immutable = True
    yield directory
    if immutable:
        subprocess.run([shutil.which("chattr") or "chattr", "-i", str(directory)], check=True)
    directory.chmod(0o755)


# -- export -o PATH -----------------------------------------------------------------------------------------------


def test_an_export_below_a_file_names_the_file(stored: StoredSearch, tmp_path: Path) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a directory\n", encoding="utf-8")
    output = blocker / "runs" / "best.json"
    before = snapshot(tmp_path)

    result = export(stored, output)

    assert_one_line_failure(result, f"cannot write the export to {output}", f"{blocker} is not a directory")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("fmt", ["json", "urial"])
def test_an_export_onto_a_directory_says_so(stored: StoredSearch, tmp_path: Path, fmt: str) -> None:
    output = tmp_path / "exports"
    output.mkdir()
    (output / "kept.json").write_text("{}\n", encoding="utf-8")
    before = snapshot(tmp_path)

    result = export(stored, output, "--format", fmt)

    assert_one_line_failure(result, f"cannot write the export to {output}: it is a directory")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("target", ["new.json", "old.json", "sub/dir/new.json"])
def test_an_export_into_a_read_only_directory_changes_nothing(
    stored: StoredSearch, tmp_path: Path, read_only: Path, target: str
) -> None:
    output = read_only / target
    before = snapshot(tmp_path)

    result = export(stored, output)

    line = assert_one_line_failure(result, f"cannot write the export to {output}: ")
    assert line.endswith(("Permission denied", "Operation not permitted")), line
    assert snapshot(tmp_path) == before


def test_an_export_creates_missing_directories_and_replaces_a_file_whole(stored: StoredSearch, tmp_path: Path) -> None:
    output = tmp_path / "runs" / "latest" / "best.json"
    result = export(stored, output)
    assert result.exit_code == 0, result.output
    first = json.loads(output.read_text(encoding="utf-8"))
    assert [d["id"] for d in first["demonstrations"]] == [*stored.chosen, *(d.id for d in stored.fixed)]

    output.write_text("an older export\n", encoding="utf-8")
    output.chmod(0o640)
    result = export(stored, output, "--format", "urial")
    assert result.exit_code == 0, result.output
    assert output.read_text(encoding="utf-8").startswith("# Instruction")
    assert output.stat().st_mode & 0o777 == 0o640  # the replaced file keeps its permissions
    assert sorted(p.name for p in output.parent.iterdir()) == ["best.json"]  # no temporary file left


# -- a damaged database --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["list"], ["status", "stored"], ["export", "stored", "-o", "OUT"]],
    ids=["list", "status", "export"],
)
def test_reading_commands_on_a_damaged_database_print_one_line(
    stored: StoredSearch, tmp_path: Path, command: list[str]
) -> None:
    damage_table(stored.db, "searches")
    output = tmp_path / "best.json"
    before = snapshot(tmp_path)

    result = invoke(*[str(output) if arg == "OUT" else arg for arg in command], "--db", stored.url)

    assert_one_line_failure(result, "is damaged")
    assert snapshot(tmp_path) == before
    assert not output.exists()


@pytest.mark.parametrize(
    "command",
    [["list"], ["status", "stored"], ["export", "stored", "-o", "OUT"]],
    ids=["list", "status", "export"],
)
def test_reading_commands_on_a_file_that_is_no_database_print_one_line(tmp_path: Path, command: list[str]) -> None:
    db = tmp_path / "garbage.db"
    db.write_bytes(b"this is not a SQLite database\n" * 200)
    output = tmp_path / "best.json"
    before = snapshot(tmp_path)

    result = invoke(*[str(output) if arg == "OUT" else arg for arg in command], "--db", f"sqlite:///{db}")

    assert_one_line_failure(result, str(db))
    assert snapshot(tmp_path) == before
