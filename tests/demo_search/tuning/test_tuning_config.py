"""The ``tuning:`` section: defaults, problems named by key path, and no effect on the search's fingerprint."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from demo_search.config import DB_ENV, compute_fingerprint, load_config, load_config_text
from demo_search.errors import ConfigError

BASE = """\
name: quick
model: {path: model}
data:
  pool: {path: pool.jsonl}
  heldout: {path: heldout.jsonl}
scorer: {kind: match}
"""


@pytest.fixture(autouse=True)
def _no_db_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DB_ENV, raising=False)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "pool.jsonl").write_text('{"instruction": "a", "output": "b"}\n', encoding="utf-8")
    (tmp_path / "heldout.jsonl").write_text('{"prompt": "q", "reference": "r"}\n', encoding="utf-8")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text('{"model_type": "llama"}', encoding="utf-8")
    return tmp_path


def write(directory: Path, extra: str = "") -> Path:
    path = directory / "search.yaml"
    path.write_text(BASE + textwrap.dedent(extra), encoding="utf-8")
    return path


def problems_of(path: Path, overrides: tuple[str, ...] = ()) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, overrides)
    return caught.value.problems


def test_tuning_is_off_by_default_with_the_papers_parameters_in_range(workspace: Path) -> None:
    tuning = load_config(write(workspace)).tuning

    assert (tuning.enabled, tuning.n_trials, tuning.parallel_trials, tuning.urial_settings) == (False, 30, None, True)
    ranges = tuning.ranges
    assert (ranges.temperature.low, ranges.temperature.high) == (0.0, 1.5)
    assert (ranges.top_p.low, ranges.top_p.high) == (0.5, 1.0)
    assert (ranges.repetition_penalty.low, ranges.repetition_penalty.high) == (1.0, 1.5)
    assert (ranges.top_k, ranges.max_tokens) == (None, None)


def test_a_written_section_is_read_with_integer_ranges(workspace: Path) -> None:
    config = load_config(write(workspace, """
        tuning:
          enabled: true
          n_trials: 12
          parallel_trials: 4
          seed: 7
          ranges: {top_p: null, top_k: {low: 0, high: 50}, max_tokens: {low: 16, high: 64}}
        """))

    tuning = config.tuning
    assert (tuning.enabled, tuning.n_trials, tuning.parallel_trials, tuning.seed) == (True, 12, 4, 7)
    assert tuning.ranges.top_p is None
    assert (tuning.ranges.top_k.low, tuning.ranges.max_tokens.high) == (0, 64)


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("tuning: {ranges: {temperature: {low: 1.0, high: 0.5}}}",
         "tuning.ranges.temperature.high must be > tuning.ranges.temperature.low (1), got 0.5"),
        ("tuning: {ranges: {temperature: {low: -0.5, high: 1.0}}}",
         "tuning.ranges.temperature.low must be >= 0, got -0.5"),
        ("tuning: {ranges: {top_p: {low: 0.5, high: 1.5}}}", "tuning.ranges.top_p.high must be in (0, 1], got 1.5"),
        ("tuning: {ranges: {repetition_penalty: {low: 0.0, high: 1.2}}}",
         "tuning.ranges.repetition_penalty.low must be > 0, got 0"),
        ("tuning: {ranges: {max_tokens: {low: 0, high: 8}}}", "tuning.ranges.max_tokens.low must be >= 1, got 0"),
        ("tuning: {ranges: {temperature: null, top_p: null, repetition_penalty: null}}",
         "tuning.ranges leaves every parameter out (all null); give at least one a {low, high}"),
        ("tuning: {n_trials: 2}",
         "tuning.n_trials must be >= 3 (the decoding section's settings and URIAL's two run first), got 2"),
        ("tuning: {enabled: 1}", "tuning.enabled must be true or false, got 1"),
        ("tuning: {ranges: {top_k: {low: 0.5, high: 10}}}", "tuning.ranges.top_k.low must be an integer, got 0.5"),
    ],
)
def test_each_problem_names_its_key_path(workspace: Path, section: str, expected: str) -> None:
    problems = problems_of(write(workspace, section))

    assert any(line.endswith(expected) for line in problems), problems


def test_unknown_tuning_keys_get_a_suggestion(workspace: Path) -> None:
    problems = problems_of(write(workspace, "tuning: {n_trails: 5, ranges: {tempreature: {low: 0, high: 1}}}"))

    assert any("unknown key tuning.n_trails (did you mean tuning.n_trials?)" in line for line in problems)
    assert any("unknown key tuning.ranges.tempreature (did you mean tuning.ranges.temperature?)" in line
               for line in problems)


def test_automatic_tuning_refuses_a_scorer_that_does_not_generate(workspace: Path) -> None:
    problems = problems_of(write(workspace, "tuning: {enabled: true}"), ("scorer.kind=loglik",))

    assert any("tuning.enabled is true but scorer.kind is 'loglik'" in line for line in problems), problems
    assert load_config(write(workspace), ("scorer.kind=loglik",)).tuning.enabled is False  # off: nothing to refuse


def test_tuning_settings_do_not_change_the_search_fingerprint(workspace: Path) -> None:
    path = write(workspace)
    plain = compute_fingerprint(load_config(path))
    tuned = compute_fingerprint(
        load_config(path, ("tuning.enabled=true", "tuning.n_trials=50", "tuning.ranges.top_p=null"))
    )
    decoded = compute_fingerprint(load_config(path, ("decoding.temperature=0.7",)))

    assert tuned.digest == plain.digest
    assert not any(key.startswith("tuning") for key in tuned.parts)
    assert decoded.digest != plain.digest  # the search's own decoding still counts


def test_the_section_survives_the_stored_yaml(workspace: Path) -> None:
    config = load_config(write(workspace), ("tuning.enabled=true", "tuning.ranges.top_k={low: 0, high: 40}"))

    again = load_config_text(config.to_yaml(hide_password=False), source="stored")

    assert again.tuning == config.tuning
