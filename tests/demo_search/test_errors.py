"""The project's error types: a summary plus one line per problem, kept apart through pickling."""

from __future__ import annotations

import pickle

import pytest

from demo_search.errors import ConfigError, DataError, DemoSearchError


def test_error_lists_each_problem_on_its_own_line():
    error = ConfigError("invalid configuration in search.yaml (2 problems)",
                        ["strategy.beam_width must be >= 1, got 0", "decoding.top_p must be in (0, 1], got 1.5"])
    assert str(error) == (
        "invalid configuration in search.yaml (2 problems)\n"
        "  - strategy.beam_width must be >= 1, got 0\n"
        "  - decoding.top_p must be in (0, 1], got 1.5"
    )
    assert str(DataError("pool.jsonl is empty")) == "pool.jsonl is empty"


@pytest.mark.parametrize("error_type", [ConfigError, DataError])
def test_error_survives_pickling_with_its_problems(error_type):
    error = pickle.loads(pickle.dumps(error_type("summary", ["pool.jsonl:3: missing field 'output'"])))
    assert isinstance(error, error_type) and isinstance(error, DemoSearchError)
    assert (error.summary, error.problems) == ("summary", ("pool.jsonl:3: missing field 'output'",))
