"""The Optuna study in the search's database: interrupted trials, first trials, best trial, importances."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from db import Store
from demo_search.tuning.space import FirstTrial
from demo_search.tuning.study import (
    FIRST_TRIAL_ATTR,
    best_trial,
    enqueue_first_trials,
    fail_interrupted_trials,
    open_study,
    param_importances,
    study_name,
    trial_with_label,
)

NAME = study_name("demo", "0123456789ab")
FIRST = (
    FirstTrial("decoding", {"x": 1.5}),
    FirstTrial("urial-dense", {"x": 0.0}),
    FirstTrial("urial-moe", {"x": 0.5}),
)


def states(study: optuna.Study) -> dict[int, TrialState]:
    return {t.number: t.state for t in study.get_trials(deepcopy=False)}


def test_the_study_lives_beside_the_store_under_the_search_name(database_url: str) -> None:
    with open_study(database_url, NAME, seed=0, startup_trials=2) as study:
        study.optimize(lambda trial: trial.suggest_float("x", 0.0, 2.0), n_trials=2)

    assert NAME == "demo-search:demo:0123456789ab"
    with Store.open(database_url, create=False) as store:  # Optuna's tables beside the store's
        assert store.list_searches() == []
    reloaded = optuna.load_study(study_name=NAME, storage=database_url)
    assert len(reloaded.trials) == 2


def test_trials_left_running_by_a_dead_driver_are_failed_once(database_url: str) -> None:
    with open_study(database_url, NAME, seed=0, startup_trials=2) as study:
        done = study.ask()
        done.suggest_float("x", 0.0, 2.0)
        study.tell(done, 1.0)
        for _ in range(2):  # asked, never told: the driver "died"
            study.ask().suggest_float("x", 0.0, 2.0)

    with open_study(database_url, NAME, seed=0, startup_trials=2) as study:
        assert fail_interrupted_trials(study) == [1, 2]
        assert states(study) == {0: TrialState.COMPLETE, 1: TrialState.FAIL, 2: TrialState.FAIL}
        assert fail_interrupted_trials(study) == []


def test_first_trials_are_enqueued_until_each_has_completed(database_url: str) -> None:
    with open_study(database_url, NAME, seed=0, startup_trials=2) as study:
        assert enqueue_first_trials(study, FIRST) == ["decoding", "urial-dense", "urial-moe"]
        assert enqueue_first_trials(study, FIRST) == []  # all three are waiting
        ran = study.ask()
        ran.suggest_float("x", 0.0, 2.0)
        study.tell(ran, 0.25)
        died = study.ask()
        died.suggest_float("x", 0.0, 2.0)
        study.tell(died, state=TrialState.FAIL)

        assert enqueue_first_trials(study, FIRST) == ["urial-dense"]
        numbers = [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,))]
        assert len(numbers) == 2  # urial-moe still waiting, urial-dense waiting again
        rerun = study.ask()
        assert (rerun.user_attrs[FIRST_TRIAL_ATTR], rerun.suggest_float("x", 0.0, 2.0)) == ("urial-moe", 0.5)


def test_the_best_trial_is_the_earliest_of_the_highest(database_url: str) -> None:
    with open_study(database_url, NAME, seed=0, startup_trials=2) as study:
        assert best_trial(study) is None
        enqueue_first_trials(study, FIRST)
        for value in (0.5, 0.75, 0.75, 0.25):
            trial = study.ask()
            trial.suggest_float("x", 0.0, 2.0)
            study.tell(trial, value)

        assert best_trial(study).number == 1
        assert trial_with_label(study, "decoding").value == 0.5
        assert trial_with_label(study, "nothing") is None


def test_importances_say_why_they_are_missing(database_url: str) -> None:
    with open_study(database_url, NAME, seed=0, startup_trials=2) as study:
        study.optimize(lambda trial: trial.suggest_float("x", 0.0, 2.0) * 0 + 1.0, n_trials=1)
        assert param_importances(study).note == "1 completed trial(s); importances need at least 2"
        study.optimize(lambda trial: trial.suggest_float("x", 0.0, 2.0) * 0 + 1.0, n_trials=2)
        assert param_importances(study).note == (
            "every completed trial scored 1: no parameter matters here"
        )


def test_importances_rank_the_parameter_that_decides_the_score(database_url: str) -> None:
    def objective(trial: optuna.Trial) -> float:
        temperature = trial.suggest_float("temperature", 0.0, 1.5)
        return -((temperature - 0.2) ** 2) + 0.001 * trial.suggest_float("top_p", 0.5, 1.0)

    with open_study(database_url, NAME, seed=0, startup_trials=16) as study:  # all sampled at random
        study.optimize(objective, n_trials=16)
        importances = param_importances(study)

    assert importances.note is None
    assert set(importances.values) == {"temperature", "top_p"}
    assert importances.values["temperature"] > importances.values["top_p"]


def test_a_resumed_sampler_draws_new_settings_reproducibly(database_url: str) -> None:
    def draw(count: int) -> list[float]:
        with open_study(database_url, NAME, seed=5, startup_trials=10) as study:
            values = []
            for _ in range(count):
                trial = study.ask()
                values.append(trial.suggest_float("x", 0.0, 2.0))
                study.tell(trial, 0.0)
            return values

    first, resumed = draw(3), draw(3)

    assert not set(first) & set(resumed)  # the resumed run does not repeat its predecessor's draws
    sampler = optuna.samplers.TPESampler(seed=5 + 3, n_startup_trials=10, multivariate=True, constant_liar=True)
    again = optuna.create_study(sampler=sampler)
    assert [again.ask().suggest_float("x", 0.0, 2.0) for _ in range(3)] == resumed
