"""Loading a config file (``demo_search.config.loading``): defaults, paths, and where the database URL comes from."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from demo_search.config import DB_ENV, DEFAULT_DB_URL, load_config, shortcut_overrides
from tests.demo_search.config.config_files import BASE, problems_of, write

# --- loading a valid file ---------------------------------------------------------------------------------------


def test_minimal_file_gets_defaults_and_absolute_paths(workspace):
    config = load_config(write(workspace, BASE))
    assert config.name == "quick"
    assert config.data.pool.path == str(workspace / "pool.jsonl")
    assert config.data.heldout.path == str(workspace / "heldout.jsonl")
    assert config.model.path == str(workspace / "model")
    assert (config.strategy.kind, config.strategy.beam_width, config.strategy.max_steps) == ("greedy", 1, 3)
    assert (config.scorer.kind, config.template.position) == ("loglik", "before_fixed")
    assert config.database.url == DEFAULT_DB_URL


def test_relative_paths_resolve_against_the_config_file_not_the_working_directory(workspace, tmp_path, monkeypatch):
    conf = workspace / "conf"
    conf.mkdir()
    (workspace / "rules.txt").write_text("Be helpful.\n", encoding="utf-8")
    path = write(conf, """\
        name: quick
        model: {path: ../model}
        template: {rules_file: ../rules.txt}
        data: {pool: {path: ../pool.jsonl}, heldout: {path: ../heldout.jsonl}}
        """)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(Path("..") / path.relative_to(tmp_path))
    assert config.template.rules_file == str(workspace / "rules.txt")
    assert config.data.pool.path == str(workspace / "pool.jsonl")
    assert config.model.path == str(workspace / "model")


def test_exponent_numbers_read_as_floats(workspace):
    config = load_config(write(workspace, BASE + "strategy: {min_delta: 1e-3}\ndecoding: {temperature: 5E-1}\n"))
    assert config.strategy.min_delta == pytest.approx(0.001)
    assert config.decoding.temperature == pytest.approx(0.5)


def test_config_is_frozen(workspace):
    config = load_config(write(workspace, BASE))
    with pytest.raises(ValidationError):
        config.decoding.temperature = 1.0  # type: ignore[misc]


# --- database URL precedence ------------------------------------------------------------------------------------


def test_database_url_precedence_db_option_then_environment_then_file_then_default(workspace, monkeypatch):
    plain = write(workspace, BASE, "plain.yaml")
    with_url = write(workspace, BASE + "database: {url: 'sqlite:///file.db'}\n", "with_url.yaml")
    assert load_config(plain).database.url == DEFAULT_DB_URL
    assert load_config(with_url).database.url == "sqlite:///file.db"
    monkeypatch.setenv(DB_ENV, "sqlite:///env.db")
    assert load_config(plain).database.url == "sqlite:///env.db"
    assert load_config(with_url).database.url == "sqlite:///env.db"
    assert load_config(with_url, shortcut_overrides(db="sqlite:///flag.db")).database.url == "sqlite:///flag.db"
    assert load_config(with_url, ["database.url=sqlite:///set.db"]).database.url == "sqlite:///set.db"


def test_invalid_database_url_from_environment_names_the_variable(workspace, monkeypatch):
    monkeypatch.setenv(DB_ENV, "nonsense")
    (problem,) = problems_of(write(workspace, BASE))
    assert problem.startswith(f"environment {DB_ENV}: database.url is not a database URL")


def test_database_password_is_hidden_in_yaml_and_repr(workspace):
    config = load_config(write(workspace, BASE), ["database.url=postgresql+psycopg://ds:hunter2@db:5432/ds"])
    assert "hunter2" not in config.to_yaml() and "hunter2" not in repr(config)
    assert "postgresql+psycopg://ds:***@db:5432/ds" in config.to_yaml()
    assert "hunter2" in config.to_yaml(hide_password=False)
