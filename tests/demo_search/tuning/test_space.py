"""The search space: which parameters are tuned, what a trial suggests, and the first trials of every study."""

from __future__ import annotations

import logging

import optuna
import pytest

from demo_search.config import TuningRanges
from demo_search.tuning.space import SEARCH_SETTINGS, SearchSpace
from workers.decoding import DecodingParams

POOR_START = DecodingParams(temperature=1.5, top_p=0.9, repetition_penalty=1.0, max_tokens=16, stop=("\n\n",), seed=3)


def space(base: DecodingParams = POOR_START, **ranges: object) -> SearchSpace:
    return SearchSpace.from_config(TuningRanges.model_validate(ranges), base)


def test_the_default_ranges_tune_temperature_top_p_and_repetition_penalty() -> None:
    assert space().names == ("temperature", "top_p", "repetition_penalty")
    assert space(top_p=None, top_k={"low": 0, "high": 40}).names == ("temperature", "top_k", "repetition_penalty")


def test_first_trials_are_the_search_setting_then_urials_two() -> None:
    first = space().first_trials(urial_settings=True)

    assert [(t.label, dict(t.params)) for t in first] == [
        (SEARCH_SETTINGS, {"temperature": 1.5, "top_p": 0.9, "repetition_penalty": 1.0}),
        ("urial-dense", {"temperature": 0.0, "top_p": 0.9, "repetition_penalty": 1.15}),
        ("urial-moe", {"temperature": 0.5, "top_p": 0.9, "repetition_penalty": 1.0}),
    ]
    assert [t.label for t in space().first_trials(urial_settings=False)] == [SEARCH_SETTINGS]


def test_a_setting_equal_to_an_earlier_one_is_tried_once(caplog: pytest.LogCaptureFixture) -> None:
    urial_base = DecodingParams(temperature=0.0, repetition_penalty=1.15)

    with caplog.at_level(logging.INFO, logger="demo_search.tuning.space"):
        first = space(urial_base).first_trials(urial_settings=True)

    assert [t.label for t in first] == [SEARCH_SETTINGS, "urial-moe"]
    assert "the urial-dense setting equals the decoding setting" in caplog.text


def test_a_setting_outside_the_ranges_is_still_tried_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="demo_search.tuning.space"):
        first = space(temperature={"low": 0.2, "high": 1.0}).first_trials(urial_settings=True)

    assert [t.params["temperature"] for t in first] == [1.5, 0.0, 0.5]
    assert "the decoding setting lies outside tuning.ranges (temperature=1.5 not in [0.2, 1])" in caplog.text
    assert "the urial-dense setting lies outside tuning.ranges (temperature=0 not in [0.2, 1])" in caplog.text


def test_the_longest_answer_is_the_top_of_a_tuned_max_tokens() -> None:
    assert space().longest_answer == 16
    assert space(max_tokens={"low": 8, "high": 64}).longest_answer == 64
    assert space(max_tokens={"low": 4, "high": 8}).longest_answer == 16  # the search's own setting is tried too


def test_decoding_replaces_only_the_tuned_values() -> None:
    tuned = space().decoding({"temperature": 0.25, "repetition_penalty": 1.2})

    assert tuned == DecodingParams(
        temperature=0.25, top_p=0.9, repetition_penalty=1.2, max_tokens=16, stop=("\n\n",), seed=3
    )
    with pytest.raises(ValueError, match="not decoding parameters tuning knows: beam_width"):
        space().decoding({"beam_width": 2})


def test_trials_suggest_within_the_ranges_and_enqueued_values_exactly() -> None:
    tuned = space(top_k={"low": 0, "high": 40}, max_tokens={"low": 8, "high": 32})
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    for trial in tuned.first_trials(urial_settings=True):
        study.enqueue_trial(dict(trial.params))

    suggested = [tuned.suggest(study.ask()) for _ in range(8)]

    assert suggested[1] == {"temperature": 0.0, "top_p": 0.9, "top_k": 0, "repetition_penalty": 1.15, "max_tokens": 16}
    for params in suggested[3:]:
        assert isinstance(params["top_k"], int) and isinstance(params["max_tokens"], int)
        assert all(r.contains(params[r.name]) for r in tuned.ranges)
        tuned.decoding(params)  # every suggestion is a valid DecodingParams
