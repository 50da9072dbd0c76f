"""Problems in a config, one line each, naming the key path, file and line (``demo_search.config.problems``)."""

from __future__ import annotations

import pytest

from demo_search.config import load_config
from demo_search.errors import ConfigError
from tests.demo_search.config.config_files import BASE, line_of, problems_of, write


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("strategy: {beam_width: 0}", "strategy.beam_width must be >= 1, got 0"),
        ("decoding: {top_p: 1.5}", "decoding.top_p must be in (0, 1], got 1.5"),
        ("decoding: {repetition_penalty: 0.0}", "decoding.repetition_penalty must be > 0, got 0.0"),
        ("decoding: {temperature: -0.5}", "decoding.temperature must be >= 0, got -0.5"),
        ("strategy: {kind: gready}", "strategy.kind must be one of greedy, beam, random, one_shot, got 'gready'"),
        ("template: {position: middle}", "template.position must be one of before_fixed, after_fixed, got 'middle'"),
        ("decoding: {max_tokens: many}", "decoding.max_tokens must be an integer, got 'many'"),
        ("strategy: {max_steps: true}", "strategy.max_steps must be an integer, got true"),
        ("decoding: {top_k: 2.5}", "decoding.top_k must be an integer, got 2.5"),
        ("decoding: {stop: '# Query'}", "decoding.stop must be a list, got '# Query'"),
        ("decoding: {stop: ['']}", "decoding.stop[0] must not be empty"),
        ("strategy: [greedy]", "strategy must be a mapping of keys to values (a section), got ['greedy']"),
        ("strategy: {min_delta: .nan}", "strategy.min_delta must be a finite number, got nan"),
        ("strategy: {on_failed_candidate: ignore}", "strategy.on_failed_candidate must be one of fail, skip, got 'ignore'"),
        ("seed: -1", "seed must be >= 0, got -1"),
    ],
)
def test_invalid_value_is_reported_with_key_path_file_and_line(workspace, section, expected):
    path = write(workspace, BASE + section + "\n")
    line = len(BASE.splitlines()) + 1
    assert problems_of(path) == (f"{path}:{line}: {expected}",)


def test_every_problem_is_reported_at_once(workspace):
    path = write(workspace, BASE + "strategy: {kind: gready, beam_width: 0}\ndecoding: {top_p: 1.5}\nwokers: {}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = [problem.split(": ", 1)[1] for problem in caught.value.problems]
    assert sorted(problems) == sorted([
        "strategy.kind must be one of greedy, beam, random, one_shot, got 'gready'",
        "strategy.beam_width must be >= 1, got 0",
        "decoding.top_p must be in (0, 1], got 1.5",
        "unknown key wokers (did you mean workers?)",
    ])
    assert caught.value.summary == f"invalid configuration in {path} (4 problems)"
    assert "Traceback" not in str(caught.value) and "pydantic" not in str(caught.value)


def test_misspelt_nested_key_suggests_the_closest_valid_key(workspace):
    path = write(workspace, BASE + "strategy:\n  kind: beam\n  beam_widht: 3\n")
    assert problems_of(path) == (
        f"{path}:{line_of(path, 'beam_widht')}: unknown key strategy.beam_widht (did you mean strategy.beam_width?)",
    )


def test_misspelt_top_level_key_suggests_the_closest_valid_key(workspace):
    path = write(workspace, BASE + "scorr: {kind: match}\n")
    assert problems_of(path) == (f"{path}:6: unknown key scorr (did you mean scorer?)",)


def test_key_in_the_wrong_section_suggests_where_it_belongs(workspace):
    path = write(workspace, BASE + "temperature: 0.7\n")
    assert problems_of(path) == (f"{path}:6: unknown key temperature (did you mean decoding.temperature?)",)


def test_unknown_key_without_a_close_match_lists_the_valid_keys(workspace):
    path = write(workspace, BASE + "workers: {colour: blue}\n")
    assert problems_of(path) == (
        f"{path}:6: unknown key workers.colour (valid keys here: count, gpus_per_worker, cpus_per_worker, "
            "resources, max_restarts, placement_timeout_s)",
    )


def test_missing_required_keys_say_what_is_expected(workspace):
    path = write(workspace, "model: {path: model}\ndata: {pool: {path: pool.jsonl}}\n")
    assert problems_of(path) == (
        "name is required: the search name (letters, digits, '_', '.', '-')",
        f"{path}:2: data.heldout is required: the held-out prompts, as {{path: ...}}",
    )


def test_missing_data_file_is_reported_with_its_key_path(workspace):
    path = write(workspace, BASE.replace("pool.jsonl", "nowhere/pool.jsonl"))
    assert problems_of(path) == (f"{path}:4: data.pool.path: file not found: {workspace / 'nowhere' / 'pool.jsonl'}",)


def test_directory_given_as_data_file_is_reported(workspace):
    path = write(workspace, BASE.replace("pool.jsonl", "model"))
    assert problems_of(path) == (
        f"{path}:4: data.pool.path: not a regular file (nor a dataset directory written by Dataset.save_to_disk): "
        f"{workspace / 'model'}",
    )


def test_invalid_name_is_reported(workspace):
    path = write(workspace, BASE.replace("name: quick", "name: my search"))
    assert problems_of(path) == (f"{path}:1: name must match ^[A-Za-z0-9_.-]+$, got 'my search'",)


def test_duplicate_keys_are_reported(workspace):
    path = write(workspace, BASE + "seed: 1\nseed: 2\n")
    assert problems_of(path) == (f"{path}:7: duplicate key seed (first written on line 6)",)


def test_invalid_regex_pattern_is_reported(workspace):
    path = write(workspace, BASE + "scorer: {kind: match, match: {mode: regex, pattern: '(unclosed'}}\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:6: scorer.match.pattern is not a valid regular expression: ")
    assert problem.endswith(", got '(unclosed'")


def test_bad_database_url_does_not_echo_the_value(workspace):
    path = write(workspace, BASE + "database: {url: 'secret-password-not-a-url'}\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:6: database.url is not a database URL (expected e.g. sqlite:///")
    assert "secret" not in problem
