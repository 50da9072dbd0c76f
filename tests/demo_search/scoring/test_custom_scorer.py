"""The ``custom`` scorer: a user's function scores each answer on the driver; its name and version come from the
function, a decorator, or the distribution that registers it as an entry point."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from demo_search.config import compute_fingerprint, diff_fingerprints, load_config_data
from demo_search.errors import ConfigError
from demo_search.scoring.custom import (
    CustomScorer,
    ScorerFunction,
    as_scorer_function,
    check_recorded_identity,
    identify_custom_scorer,
    registered_scorer_function,
    scorer_function,
)
from demo_search.types import HeldOutPrompt
from tests.support.scorer_plugins import EXACT_MATCH_SOURCE, install_scorer_distribution
from workers.tree import LeafGeneration, TokenCounts

PROMPTS = {
    "p1": HeldOutPrompt(id="p1", query="shout abc", reference="ABC"),
    "p2": HeldOutPrompt(id="p2", query="no reference"),
}


def generation(leaf_id: str, text: str) -> LeafGeneration:
    return LeafGeneration("set", leaf_id, text, (), "stop", TokenCounts(4, 4, 0))


def test_the_function_gets_prompt_answer_and_reference_and_its_value_is_the_score() -> None:
    calls = []

    def length_share(prompt: str, answer: str, reference: str | None) -> float:
        calls.append((prompt, answer, reference))
        return min(len(answer) / 10, 1.0)

    scorer = CustomScorer(as_scorer_function(length_share))
    first, second = scorer.evaluate([generation("p1", "ABCDE"), generation("p2", "x" * 30)], PROMPTS)

    assert calls == [("shout abc", "ABCDE", "ABC"), ("no reference", "x" * 30, None)]
    assert (first.prompt_id, first.score, first.output, first.error) == ("p1", 0.5, "ABCDE", None)
    assert (second.score, second.detail) == (1.0, {"finish_reason": "stop"})
    assert scorer.engine_call == "generate" and not scorer.needs_references


@pytest.mark.parametrize(
    ("returned", "error"),
    [
        (1.5, "scorer function 'bad' returned 1.5, outside [0.0, 1.0]"),
        (-0.1, "scorer function 'bad' returned -0.1, outside [0.0, 1.0]"),
        (math.nan, "scorer function 'bad' returned nan, outside [0.0, 1.0]"),
        ("1", "scorer function 'bad' returned str '1', not a number"),
        (True, "scorer function 'bad' returned bool True, not a number"),
        (None, "scorer function 'bad' returned NoneType None, not a number"),
    ],
)
def test_a_value_that_breaks_the_contract_is_a_failed_evaluation(returned: object, error: str) -> None:
    scorer = CustomScorer(ScorerFunction("bad", None, lambda prompt, answer, reference: returned))

    (evaluation,) = scorer.evaluate([generation("p1", "ABC")], PROMPTS)

    assert (evaluation.score, evaluation.error, evaluation.output) == (None, error, "ABC")


def test_an_exception_is_a_failed_evaluation_naming_the_function(caplog: pytest.LogCaptureFixture) -> None:
    def fails(prompt: str, answer: str, reference: str | None) -> float:
        raise KeyError("missing")

    scorer = CustomScorer(as_scorer_function(fails))
    evaluations = scorer.evaluate([generation("p1", "a"), generation("p2", "b")], PROMPTS)

    assert [e.error for e in evaluations] == ["scorer function 'fails' raised KeyError: 'missing'"] * 2
    assert [e.score for e in evaluations] == [None, None]
    assert len([r for r in caplog.records if "raised KeyError" in r.getMessage()]) == 1  # warned once


def test_names_and_versions_come_from_the_decorator_the_function_or_the_caller() -> None:
    @scorer_function(version="2")
    def exact(prompt: str, answer: str, reference: str | None) -> float:
        return float(answer == reference)

    def plain(prompt: str, answer: str, reference: str | None) -> float:
        return 0.0

    plain.version = 3  # type: ignore[attr-defined]

    assert (exact.name, exact.version, exact("q", "a", "a")) == ("exact", "2", 1.0)
    assert as_scorer_function(exact) is exact
    assert (as_scorer_function(plain).name, as_scorer_function(plain).version) == ("plain", "3")
    assert as_scorer_function(exact, name="renamed").name == "renamed"
    assert as_scorer_function(len, default_version="9").version == "9"
    with pytest.raises(ConfigError, match="name it with scorer_function"):
        as_scorer_function(lambda prompt, answer, reference: 0.0)
    with pytest.raises(ConfigError, match="must be a function"):
        as_scorer_function("exact")


def test_an_entry_point_is_found_by_name_and_versioned_by_its_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_scorer_distribution(tmp_path, monkeypatch, module="ep_scorers_a", source=EXACT_MATCH_SOURCE,
                                entry_points={"exact_ep": "ep_scorers_a:exact"}, version="1.4")

    found = registered_scorer_function("exact_ep")

    assert (found.name, found.version) == ("exact_ep", "1.4")
    assert found("q", " ABC ", "ABC") == 1.0


def test_an_unknown_or_unloadable_entry_point_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_scorer_distribution(tmp_path, monkeypatch, module="ep_scorers_b", source=EXACT_MATCH_SOURCE,
                                entry_points={"exact_b": "ep_scorers_b:exact", "gone": "ep_scorers_b:nothing"})

    with pytest.raises(ConfigError) as unknown:
        registered_scorer_function("no_such_scorer")
    with pytest.raises(ConfigError) as unloadable:
        registered_scorer_function("gone")

    assert "\n" not in str(unknown.value) and "\n" not in str(unloadable.value)
    assert str(unknown.value).startswith("scorer.custom.name: no scorer function named 'no_such_scorer': pass it "
                                         "to demo_search.run(config, scorer=...) or register it under the entry "
                                         "point group 'demo_search.scorers'")
    assert "registered: exact_b, gone" in str(unknown.value)
    assert "the entry point 'gone' (ep_scorers_b:nothing) could not be loaded: AttributeError" in str(unloadable.value)


def custom_config(tmp_path: Path, **custom: object):
    (tmp_path / "pool.jsonl").write_text('{"prompt": "a", "response": "A"}\n', encoding="utf-8")
    (tmp_path / "heldout.jsonl").write_text('{"prompt": "b", "reference": "B"}\n', encoding="utf-8")
    return load_config_data({
        "name": "custom",
        "data": {"pool": {"path": "pool.jsonl"}, "heldout": {"path": "heldout.jsonl"}},
        "scorer": {"kind": "custom", "custom": custom},
    }, base_dir=tmp_path)


def test_the_recorded_name_and_version_are_fingerprinted(tmp_path: Path) -> None:
    v1 = identify_custom_scorer(custom_config(tmp_path, name="exact"),
                                ScorerFunction("exact", "1", lambda prompt, answer, reference: 0.0))
    v2 = identify_custom_scorer(v1, ScorerFunction("exact", "2", lambda prompt, answer, reference: 0.0))
    renamed = identify_custom_scorer(v1, ScorerFunction("other", "1", lambda prompt, answer, reference: 0.0))
    first = compute_fingerprint(v1)

    assert (v1.scorer.custom.name, v1.scorer.custom.version) == ("exact", "1")
    assert diff_fingerprints(first.parts, compute_fingerprint(v2)) == ["scorer.custom.version"]
    assert diff_fingerprints(first.parts, compute_fingerprint(renamed)) == ["scorer.custom.name"]
    check_recorded_identity(v1, ScorerFunction("exact", "1", len))
    with pytest.raises(ConfigError, match="ran scorer function 'exact' version '1', but the one found is 'exact' "
                                          "version '2'"):
        check_recorded_identity(v1, ScorerFunction("exact", "2", len))


def test_a_custom_scorer_needs_a_name_and_a_function_needs_a_custom_scorer(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="scorer.custom.name is required when scorer.kind is custom"):
        custom_config(tmp_path)
    config = custom_config(tmp_path, name="exact").model_copy(update={"scorer": custom_config(
        tmp_path, name="exact").scorer.model_copy(update={"kind": "match"})})

    with pytest.raises(ConfigError, match="was given, but search 'custom' scores with 'match'"):
        identify_custom_scorer(config, ScorerFunction("exact", None, len))
    assert identify_custom_scorer(config) is config
