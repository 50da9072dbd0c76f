"""``status --json``, ``list --json`` and ``export -o -``: one JSON document on stdout, nothing else there, and the
JSON valid against the schema generated from the models it is built from.

The searches are written straight into SQLite (``stored.py``): no Ray. Commands run in this process through
typer's runner, which keeps stdout and stderr apart.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner, Result

from db import Store, TuningResult
from demo_search.cli import app
from demo_search.cli.json_views import json_schema
from demo_search.exports import ExportDocument
from demo_search.exports.writers import EXPORT_WRITERS
from tests.demo_search.cli.stored import STOP_REASON, StoredSearch, write_stored_search

pytestmark = pytest.mark.hand_written_searches  # stored.py writes its search row by row, not through the driver

PARAMS = {"temperature": 0.5, "top_p": 0.875, "repetition_penalty": 1.15}


@pytest.fixture
def stored(tmp_path: Path) -> StoredSearch:
    search = write_stored_search(tmp_path / "store", name="first")
    with Store.open(search.url) as store:
        store.record_tuning_result("first", TuningResult(
            study_name="demo-search:first:abc", demo_ids=search.chosen, params=PARAMS, score=0.875, stderr=0.01,
            baseline_score=0.5, n_trials=12, importances={"temperature": 0.75, "top_p": 0.25},
        ))
    write_stored_search(tmp_path / "store", name="second")  # the same database
    return search


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"DEMO_SEARCH_DB": None})


def validator(command: str) -> Draft202012Validator:
    schema = json_schema(command)  # type: ignore[arg-type]
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def parsed_utc(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    assert value.utcoffset() is not None and value.utcoffset().total_seconds() == 0, text
    return value


def test_status_json_is_valid_and_holds_the_whole_trajectory_and_the_tuning(stored: StoredSearch) -> None:
    result = invoke("status", "first", "--db", stored.url, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    validator("status").validate(document)
    assert result.stderr == ""

    assert (document["format"], document["version"], document["database"]) == ("demo-search.status", 1, stored.url)
    search = document["search"]
    assert (search["name"], search["status"], search["stop_reason"], search["steps_done"]) == (
        "first", "finished", STOP_REASON, 3
    )
    assert parsed_utc(search["created_at"]) <= parsed_utc(search["updated_at"]) == parsed_utc(search["finished_at"])
    steps = document["steps"]
    assert [s["step"] for s in steps] == [0, 1, 2]
    assert [s["chosen"]["item_id"] for s in steps] == [None, *stored.chosen]
    assert steps[2]["chosen"]["demo_ids"] == list(stored.chosen)
    assert [(s["score"], s["stderr"], s["chosen"]["n_scored"]) for s in steps] == [
        (0.25, 0.125, 3), (0.75, 0.125, 3), (1.0, 0.125, 3)
    ]
    assert steps[0]["runner_up"] is None
    assert steps[1]["runner_up"] == {"item_id": stored.pool[0].id, "set_key": f"1-{stored.pool[0].id}", "score": 0.5}
    assert [(s["tried"], s["skipped"], s["failed"]) for s in steps] == [(1, 0, 0), (4, 1, 0), (3, 0, 0)]
    skipped = [c for c in steps[1]["candidates"] if c["status"] == "skipped"]
    assert [(c["added_item_id"], c["score"], c["reason"]) for c in skipped] == [
        (stored.pool[3].id, None, "longer than the context")
    ]
    assert all(parsed_utc(s["recorded_at"]) for s in steps)
    (tuning,) = document["tuning"]
    assert (tuning["study_name"], tuning["params"], tuning["score"], tuning["baseline_score"], tuning["n_trials"]) == (
        "demo-search:first:abc", PARAMS, 0.875, 0.5, 12
    )
    assert tuning["demo_ids"] == list(stored.chosen) and parsed_utc(tuning["updated_at"])


def test_list_json_is_valid_and_lists_every_search_oldest_first(stored: StoredSearch) -> None:
    result = invoke("list", "--db", stored.url, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    validator("list").validate(document)
    assert (document["format"], document["version"]) == ("demo-search.list", 1)
    assert [s["name"] for s in document["searches"]] == ["first", "second"]
    first = document["searches"][0]
    assert (first["status"], first["steps_done"], first["last_step_score"], first["evaluations"]) == (
        "finished", 3, 1.0, 0
    )
    assert [key for key in first] == [
        "name", "status", "stop_reason", "steps_done", "evaluations", "failed_evaluations", "last_step_score",
        "computed_tokens", "reused_evaluations", "judge_prompt_tokens", "judge_completion_tokens", "judge_usd", "created_at", "updated_at",
        "finished_at",
    ]


def test_the_status_of_a_search_and_its_row_in_the_list_agree(stored: StoredSearch) -> None:
    status = json.loads(invoke("status", "first", "--db", stored.url, "--json").stdout)
    listed = json.loads(invoke("list", "--db", stored.url, "--json").stdout)
    assert status["search"] == listed["searches"][0]


@pytest.mark.parametrize("command", ["status", "list"])
def test_the_schema_refuses_what_the_models_would_not_write(stored: StoredSearch, command: str) -> None:
    args = ["status", "first"] if command == "status" else ["list"]
    document = json.loads(invoke(*args, "--db", stored.url, "--json").stdout)
    check = validator(command)
    search = document["search"] if command == "status" else document["searches"][0]

    def broken(change: Any) -> dict[str, Any]:
        copied = copy.deepcopy(document)
        change(copied["search"] if command == "status" else copied["searches"][0])
        return copied

    assert check.is_valid(document)
    assert not check.is_valid(broken(lambda s: s.update(status="paused")))
    assert not check.is_valid(broken(lambda s: s.update(steps_done="3")))
    assert not check.is_valid(broken(lambda s: s.update(created_at=None)))
    assert not check.is_valid(broken(lambda s: s.update(surprise=1)))
    assert not check.is_valid(broken(lambda s: s.pop("updated_at")))
    assert search["name"] == "first"


def test_json_of_an_empty_database_and_of_a_missing_search(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    Store.open(url).close()
    result = invoke("list", "--db", url, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["searches"] == []
    result = invoke("status", "nothing", "--db", url, "--json")
    assert result.exit_code == 1 and result.stdout == ""
    assert "nothing" in result.stderr


@pytest.mark.parametrize("fmt", list(EXPORT_WRITERS))
def test_export_to_stdout_writes_exactly_what_a_file_export_holds(
    stored: StoredSearch, tmp_path: Path, fmt: str
) -> None:
    to_file = invoke("export", "first", "--db", stored.url, "-f", fmt, "-o", str(tmp_path / "best.out"))
    assert to_file.exit_code == 0, to_file.output
    result = invoke("export", "first", "--db", stored.url, "-f", fmt, "-o", "-")
    assert result.exit_code == 0, result.output
    written = (tmp_path / "best.out").read_text(encoding="utf-8")
    exported_at = re.compile(r'"exported_at": "[^"]+"')  # the one value that differs between two exports
    assert exported_at.sub("", result.stdout) == exported_at.sub("", written)
    assert not (Path.cwd() / "-").exists()
    logged = result.stderr.splitlines()  # log records only: the writer's own notes, then the report's
    assert all(re.fullmatch(r"\S+ (INFO|WARNING) [\w.]+: .+", line) for line in logged), result.stderr
    assert logged[-1].endswith(f" INFO demo_search.cli.report: exported search first ({fmt}) to stdout")
    if fmt == "json":
        document = ExportDocument.from_payload(json.loads(result.stdout))
        assert [d.id for d in document.demonstrations][:2] == list(stored.chosen)


def test_a_bad_export_format_is_one_error_line_on_stderr(stored: StoredSearch, tmp_path: Path) -> None:
    result = invoke("export", "first", "--db", stored.url, "--format", "yaml", "-o", str(tmp_path / "x"))
    assert result.exit_code == 2
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if "yaml" in line]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("Error: ") and "is not one of 'json', 'urial'" in errors[0], result.stderr
    assert not (tmp_path / "x").exists()



def test_the_schemas_are_printed_for_users(capsys: pytest.CaptureFixture[str]) -> None:
    from demo_search.cli.json_views import main

    for command in ("status", "list"):
        assert main([command]) == 0
        assert json.loads(capsys.readouterr().out) == json_schema(command)  # type: ignore[arg-type]
    assert main(["export"]) == 2
    assert "usage: python -m demo_search.cli.json_views {status,list}" in capsys.readouterr().err
