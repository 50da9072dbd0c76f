"""Reading the config file itself (``demo_search.config.yaml_source``): YAML syntax, empty files, encoding."""

from __future__ import annotations

import pytest

from demo_search.config import load_config
from demo_search.errors import ConfigError
from tests.demo_search.config.config_files import BASE, problems_of, write


def test_yaml_syntax_error_names_file_line_and_column(workspace):
    path = write(workspace, "name: quick\nstrategy:\n  kind: [greedy\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert problem.startswith(f"{path}:4:1: YAML syntax error: ")
    assert caught.value.summary == f"cannot read {path}"


def test_empty_file_is_a_clear_error(workspace):
    path = write(workspace, "# nothing yet\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path} is empty; a config needs at least:\nname: ")


def test_top_level_list_is_a_clear_error(workspace):
    path = write(workspace, "- name: quick\n")
    assert problems_of(path) == (f"{path}: the top level must be a mapping of keys to values, got a list",)


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*absent.yaml"):
        load_config(tmp_path / "absent.yaml")


def test_invalid_utf8_names_the_line(workspace):
    path = workspace / "search.yaml"
    path.write_bytes(BASE.encode() + b"seed: \xff\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == (f"{path}:6: invalid UTF-8 (byte {len(BASE) + 6})",)
