"""Decoding-tuning results (revision 0002): recorded per study, replaced when recorded again, shared with Optuna."""

from __future__ import annotations

import dataclasses

import pytest

from db import Search, SearchNotFoundError, Store, StoreError, TuningResult, inspect_database


def result(study: str = "demo-search:demo:abc", score: float = 0.75, n_trials: int = 8) -> TuningResult:
    return TuningResult(
        study_name=study,
        demo_ids=("pool-2", "pool-0"),
        params={"temperature": 0.0, "top_p": 0.9, "repetition_penalty": 1.15, "stop": ["\n# Query"], "seed": None},
        score=score,
        stderr=0.1,
        baseline_score=0.25,
        n_trials=n_trials,
        importances={"temperature": 0.8, "top_p": 0.2},
    )


def without_time(value: TuningResult) -> TuningResult:
    return dataclasses.replace(value, updated_at=None)


def test_a_tuning_result_round_trips(store: Store, search: Search) -> None:
    stored = store.record_tuning_result("demo", result())

    assert stored.updated_at is not None
    assert without_time(stored) == result()
    assert [without_time(r) for r in store.tuning_results("demo")] == [result()]


def test_recording_a_study_again_replaces_its_result(store: Store, search: Search) -> None:
    store.record_tuning_result("demo", result(score=0.5, n_trials=4))
    store.record_tuning_result("demo", result(study="demo-search:demo:other", score=0.1))
    store.record_tuning_result("demo", result(score=0.75, n_trials=8))

    by_study = {r.study_name: r for r in store.tuning_results("demo")}
    assert set(by_study) == {"demo-search:demo:abc", "demo-search:demo:other"}
    assert (by_study["demo-search:demo:abc"].score, by_study["demo-search:demo:abc"].n_trials) == (0.75, 8)
    assert store.tuning_results("demo")[-1].study_name == "demo-search:demo:abc"  # the most recently updated


def test_results_belong_to_their_search(store: Store, search: Search) -> None:
    store.create_search("other", config={}, fingerprint="f", fingerprint_parts={})
    store.record_tuning_result("demo", result())

    assert store.tuning_results("other") == []
    with pytest.raises(SearchNotFoundError, match="no search named 'dmeo'.*did you mean 'demo'"):
        store.record_tuning_result("dmeo", result())


def test_values_that_are_not_json_are_refused_before_writing(store: Store, search: Search) -> None:
    with pytest.raises(StoreError, match="parameters of tuning study .* not storable as JSON"):
        store.record_tuning_result("demo", dataclasses.replace(result(), params={"temperature": object()}))
    assert store.tuning_results("demo") == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"score": float("nan")}, "score of the tuning result .* must be a finite number"),
        ({"n_trials": -1}, "n_trials of the tuning result .* must be >= 0"),
        ({"study_name": ""}, "a study name must have 1 to 255 characters"),
        ({"importances": {"top_p": float("inf")}}, "importance of 'top_p'"),
    ],
)
def test_invalid_results_are_refused_when_built(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(result(), **change)


def test_optuna_studies_share_the_database(store: Store, search: Search, database_url: str) -> None:
    optuna = pytest.importorskip("optuna")

    storage = optuna.storages.RDBStorage(database_url)
    try:
        study = optuna.create_study(study_name="demo-search:demo:abc", storage=storage, direction="maximize")
        study.enqueue_trial({"x": 1.0})
        study.optimize(lambda trial: trial.suggest_float("x", 0.0, 2.0), n_trials=1)
    finally:
        storage.engine.dispose()
    store.record_tuning_result("demo", result())

    with Store.open(database_url, create=False) as reopened:  # Optuna's tables do not make the schema foreign
        assert [r.study_name for r in reopened.tuning_results("demo")] == ["demo-search:demo:abc"]
    assert inspect_database(database_url).revision == store.schema_revision
