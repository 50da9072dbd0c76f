"""`demo-search validate`: every problem reported with file:line or key path, non-zero exit, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from demo_search.cli import app

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture()
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEMO_SEARCH_DB", raising=False)
    (tmp_path / "pool.jsonl").write_text(
        "\n".join(json.dumps({"instruction": f"q{i}", "output": f"a{i}"}) for i in range(3)) + "\n", encoding="utf-8"
    )
    (tmp_path / "held.jsonl").write_text(json.dumps({"prompt": "x", "reference": "y"}) + "\n", encoding="utf-8")
    return tmp_path


def write_config(root: Path, extra: str = "") -> Path:
    path = root / "search.yaml"
    path.write_text(
        "name: t\nmodel: {path: tiny}\n"
        "data: {pool: {path: pool.jsonl}, heldout: {path: held.jsonl}}\n"
        "scorer: {kind: match}\n" + extra,
        encoding="utf-8",
    )
    return path


def validate(path: Path, *args: str):
    result = CliRunner().invoke(app, ["validate", str(path), *args])
    return result.exit_code, result.output


def assert_nothing_written(root: Path) -> None:
    assert not list(root.glob("*.db*")), "validate must not create a database"


def test_valid_inputs_print_counts_and_pass(workspace: Path) -> None:
    code, out = validate(write_config(workspace))
    assert code == 0, out
    assert "candidates" in out and "ok: configuration and data are valid" in out
    assert_nothing_written(workspace)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("strategy: {beam_widht: 2}\n", "unknown key strategy.beam_widht (did you mean strategy.beam_width?)"),
        ("decoding: {top_p: 1.5}\n", "decoding.top_p must be in (0, 1], got 1.5"),
        ("strategy: {kind: beam, beam_width: 0}\n", "strategy.beam_width must be >= 1, got 0"),
        ("temprature: 0.5\n", "temprature"),
    ],
)
def test_config_errors_name_the_key_path(workspace: Path, extra: str, expected: str) -> None:
    code, out = validate(write_config(workspace, extra))
    assert code == 1
    assert expected in out
    assert_nothing_written(workspace)


def test_override_errors_name_the_key_path(workspace: Path) -> None:
    code, out = validate(write_config(workspace), "--set", "strategy.max_steps=0")
    assert code == 1 and "strategy.max_steps" in out


def test_broken_json_line_and_missing_field_name_file_and_line(workspace: Path) -> None:
    (workspace / "pool.jsonl").write_text(
        '{"instruction": "q0", "output": "a0"}\n{"instruction": "q1", "output": \n{"instruction": "q2"}\n',
        encoding="utf-8",
    )
    code, out = validate(write_config(workspace))
    assert code == 1
    assert "pool.jsonl:2:" in out
    assert "pool.jsonl:3:" in out and "output" in out
    assert_nothing_written(workspace)


def test_empty_pool_is_an_error(workspace: Path) -> None:
    (workspace / "pool.jsonl").write_text("", encoding="utf-8")
    code, out = validate(write_config(workspace))
    assert code == 1 and "pool.jsonl" in out and "empty" in out
    assert_nothing_written(workspace)


def test_invalid_utf8_names_the_line(workspace: Path) -> None:
    (workspace / "pool.jsonl").write_bytes(b'{"instruction": "q0", "output": "a0"}\n{"instruction": "\xff", "output": "a"}\n')
    code, out = validate(write_config(workspace))
    assert code == 1 and "pool.jsonl:2" in out and "UTF-8" in out
    assert_nothing_written(workspace)


def test_existing_database_is_not_changed(workspace: Path) -> None:
    db = workspace / "existing.db"
    db.write_bytes(b"")
    before = db.stat().st_mtime_ns
    code, _ = validate(write_config(workspace, f"database: {{url: 'sqlite:///{db}'}}\n"))
    assert code == 0
    assert db.stat().st_mtime_ns == before and db.read_bytes() == b""


def test_a_pool_item_longer_than_the_context_window_is_named_with_its_token_count(workspace: Path) -> None:
    long_answer = "z" * 400  # the bundled model's tokenizer is byte-level: one token per character
    with (workspace / "pool.jsonl").open("a", encoding="utf-8") as pool:
        pool.write(json.dumps({"instruction": "long", "output": long_answer}) + "\n")
    config = workspace / "search.yaml"
    config.write_text(
        "name: t\nmodel: {path: tiny, max_context: 300}\n"
        "data: {pool: {path: pool.jsonl}, heldout: {path: held.jsonl}}\n"
        "scorer: {kind: match}\ndecoding: {max_tokens: 16}\n",
        encoding="utf-8",
    )

    code, out = validate(config)

    assert code == 0, out
    [line] = [line for line in out.splitlines() if "does not fit" in line]
    assert line.startswith(f"{workspace / 'pool.jsonl'}:4: pool item ")
    assert "with its max_tokens=16) but the context window is 300; the search will skip it" in line
    needed = int(line.split("needs ")[1].split(" tokens")[0])
    assert needed > 400
    assert_nothing_written(workspace)


def test_run_dry_run_prints_the_projected_cost_and_starts_and_stores_nothing(workspace: Path, monkeypatch) -> None:
    import demo_search.search.cluster

    def no_ray(options):
        raise AssertionError("a dry run started Ray")

    monkeypatch.setattr(demo_search.search.cluster, "init_ray", no_ray)
    config = write_config(workspace, "strategy: {max_steps: 2}\ndecoding: {max_tokens: 16}\n")

    result = CliRunner().invoke(app, ["run", str(config), "--dry-run"])

    assert result.exit_code == 0, result.output
    rows = {line.split("│")[0].strip(): [cell.strip() for cell in line.split("│")[1:]]
            for line in result.output.splitlines() if "│" in line}
    # 3 pool items, 1 held-out prompt: the base set, then 3 and 2 candidate sets; 16 tokens generated at most each.
    assert [rows[step][:2] for step in ("base", "1", "2", "total")] == [["1", "1"], ["3", "3"], ["2", "2"], ["6", "6"]]
    assert rows["total"][4] == "96"
    assert "dry run: nothing was run or stored" in result.output
    assert_nothing_written(workspace)


def test_validate_names_an_unregistered_custom_scorer_in_one_line(workspace: Path) -> None:
    config = write_config(workspace).read_text(encoding="utf-8").replace(
        "scorer: {kind: match}", "scorer: {kind: custom, custom: {name: no_such_scorer}}")
    (workspace / "search.yaml").write_text(config, encoding="utf-8")

    code, out = validate(workspace / "search.yaml")

    assert code == 1
    assert [line for line in out.splitlines() if line.strip()] == [
        "error: scorer.custom.name: no scorer function named 'no_such_scorer': pass it to demo_search.run(config, "
        "scorer=...) or register it under the entry point group 'demo_search.scorers' (none is registered)"
    ]
