"""The database URL: one resolution order for every command, and ``validate`` refusing exactly what ``run`` refuses.

``run`` is a real subprocess, stopped by the ``db_commit`` failpoint at its first write (creating the search), so
an accepted URL costs no Ray and no model; a refused one fails before anything is written.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from demo_search.cli import app
from demo_search.config import DB_ENV, DEFAULT_DB_URL, resolve_database_url
from demo_search.config.database import masked_url
from demo_search.errors import ConfigError

CLI = Path(sys.executable).with_name("demo-search")
PASSWORD = "hunter2"
WIDE = "250"


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": WIDE, DB_ENV: None, **(env or {})})


@pytest.fixture()
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DB_ENV, raising=False)
    (tmp_path / "pool.jsonl").write_text(
        "".join(json.dumps({"instruction": f"q{i}", "output": f"a{i}"}) + "\n" for i in range(3)), encoding="utf-8"
    )
    (tmp_path / "held.jsonl").write_text(json.dumps({"prompt": "x", "reference": "y"}) + "\n", encoding="utf-8")
    (tmp_path / "search.yaml").write_text(
        "name: urls\nmodel: {path: tiny}\n"
        "data: {pool: {path: pool.jsonl}, heldout: {path: held.jsonl}}\nscorer: {kind: match}\n",
        encoding="utf-8",
    )
    return tmp_path


# -- which URL wins ------------------------------------------------------------------------------------------------


def test_the_flag_beats_the_environment_which_beats_the_configuration_which_beats_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(DB_ENV, raising=False)
    assert resolve_database_url() == DEFAULT_DB_URL
    assert resolve_database_url(None, "sqlite:///file.db") == "sqlite:///file.db"
    monkeypatch.setenv(DB_ENV, "sqlite:///env.db")
    assert resolve_database_url(None, "sqlite:///file.db") == "sqlite:///env.db"
    assert resolve_database_url("sqlite:///flag.db", "sqlite:///file.db") == "sqlite:///flag.db"


def test_a_refused_url_names_where_it_came_from_and_hides_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DB_ENV, f"mysql://ds:{PASSWORD}@db/ds")
    with pytest.raises(ConfigError) as raised:
        resolve_database_url(None, "sqlite:///file.db")
    [problem] = raised.value.problems
    assert problem.startswith(f"environment {DB_ENV} is not a database demo-search can use: unsupported database")
    assert PASSWORD not in str(raised.value) and "mysql://ds:***@db/ds" in problem


def test_masking_hides_only_the_password() -> None:
    assert masked_url(f"postgresql+psycopg://ds:{PASSWORD}@db:5432/ds") == "postgresql+psycopg://ds:***@db:5432/ds"
    assert masked_url("sqlite:///./demo_search.db") == "sqlite:///./demo_search.db"
    assert PASSWORD not in masked_url(f"not a URL {PASSWORD}")


def test_reading_commands_find_the_database_in_the_same_order(workspace: Path) -> None:
    env = {DB_ENV: f"sqlite:///{workspace / 'env.db'}"}
    flagged = invoke("list", "--db", f"sqlite:///{workspace / 'flag.db'}", env=env)
    assert f"SQLite database {workspace / 'flag.db'} does not exist" in flagged.output
    from_env = invoke("status", "x", env=env)
    assert f"SQLite database {workspace / 'env.db'} does not exist" in from_env.output
    default = invoke("export", "x", "-o", str(workspace / "best.json"))
    assert "SQLite database demo_search.db does not exist" in default.output
    assert all(r.exit_code == 1 for r in (flagged, from_env, default))
    assert not list(workspace.glob("*.db"))


# -- validate and run agree ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    url: str
    refused_because: str | None
    """A phrase both commands print when they refuse the URL; ``None``: both accept it."""


CASES = {
    "sqlite-relative": Case("sqlite:///relative.db", None),
    "sqlite-absolute": Case("sqlite:///{root}/absolute.db", None),
    "sqlite-memory": Case("sqlite://", None),
    "sqlite-memory-named": Case("sqlite:///:memory:", None),
    "postgresql": Case(f"postgresql://ds:{PASSWORD}@127.0.0.1:1/ds", None),
    "postgresql+psycopg": Case(f"postgresql+psycopg://ds:{PASSWORD}@127.0.0.1:1/ds", None),
    "mysql": Case(f"mysql://ds:{PASSWORD}@127.0.0.1/ds", "unsupported database backend 'mysql'"),
    "postgresql+asyncpg": Case(f"postgresql+asyncpg://ds:{PASSWORD}@127.0.0.1/ds", "unsupported PostgreSQL driver"),
    "sqlite-missing-directory": Case("sqlite:///no/such/directory/x.db", "does not exist"),
    "garbage": Case(f"{PASSWORD} is no URL", "is not a database URL"),
}


def run_until_first_write(workspace: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in (DB_ENV, "RAY_ADDRESS")}
    env.update(DEMO_SEARCH_FAILPOINTS="db_commit:1", COLUMNS=WIDE)
    return subprocess.run(
        [str(CLI), "run", "search.yaml", "--db", url], cwd=workspace, env=env, text=True, capture_output=True,
        timeout=300,
    )


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_validate_refuses_exactly_the_urls_that_run_refuses(workspace: Path, case: Case) -> None:
    url = case.url.format(root=workspace)

    validated = invoke("validate", "search.yaml", "--db", url)
    ran = run_until_first_write(workspace, url)

    ran_output = ran.stdout + ran.stderr
    assert PASSWORD not in validated.output and PASSWORD not in ran_output
    assert "Traceback" not in validated.output and "Traceback" not in ran_output
    if case.refused_because is None:
        assert validated.exit_code == 0, validated.output
        if url.startswith("sqlite"):  # the store opened and the search was being created
            assert ran.returncode == -signal.SIGKILL, ran_output
        else:  # the URL was taken; nothing listens on port 1
            assert ran.returncode == 1 and "127.0.0.1" in ran_output, ran_output
            assert "database URL" not in ran_output and "unsupported" not in ran_output, ran_output
    else:
        assert validated.exit_code == 1, validated.output
        assert case.refused_because in validated.output, validated.output
        assert ran.returncode == 1, ran_output
        assert case.refused_because in ran_output, ran_output
    assert not (workspace / "no").exists()
