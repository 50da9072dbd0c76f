"""Tuning trials and the evaluation ledger: a trial whose decoding was evaluated before on the same prompt is
served from the ledger (its answers are not generated again), with the score it had.

The real tuner, objective, scorer, Optuna study and store; only the dispatcher is the in-process fake, which counts
what it computes.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

from db import Store
from demo_search.config.tuning import FloatRange, TuningRanges
from demo_search.scoring.match import MatchScorer
from demo_search.search.candidates import CandidateSet
from demo_search.search.ledger import EvaluationLedger, NoLedger
from demo_search.tuning.objective import TrialObjective
from demo_search.tuning.space import SearchSpace
from demo_search.tuning.study import completed_trials, open_study
from demo_search.tuning.tuner import DecodingTuner
from tests.support.fake_dispatcher import ScoreTable
from tests.support.toy_search import ToySearch, toy_problem
from workers.decoding import DecodingParams


def tune(store: Store, url: str, study: str, ledger, trials: int):
    problem = toy_problem("ab", prompts=3)
    search = ToySearch(store, "toy", problem)
    fake = search.dispatcher(ScoreTable({}), answer=lambda labels, prompt_id: f"reference {prompt_id[-1]}")
    tree = problem.step_tree([CandidateSet(()).extend(problem.pool_ids[0])], with_targets=False)
    objective = TrialObjective(tree, problem.template, MatchScorer("contains"), problem.prompts_by_id)
    ranges = TuningRanges(temperature=None, top_p=None, repetition_penalty=FloatRange(low=1.0, high=1.5))
    space = SearchSpace.from_config(ranges, DecodingParams(max_tokens=16))
    with open_study(url, study, seed=0, startup_trials=1) as opened:
        tuner = DecodingTuner(study=opened, space=space, objective=objective, dispatcher=lambda: nullcontext(fake),
                              n_trials=trials, parallel_trials=1, first_trials=space.first_trials(urial_settings=True),
                              ledger=ledger)
        tuner.run()
        scores = {t.params["repetition_penalty"]: t.value for t in completed_trials(opened)}
    return fake, scores


def test_a_trial_with_the_parameters_of_an_earlier_one_is_served_from_the_ledger(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tuning.db'}"
    with Store.open(url) as store:
        first, first_scores = tune(store, url, "first", EvaluationLedger(store, "toy"), trials=3)
        # The search's own setting and URIAL's: both were first trials of the first study.
        again, again_scores = tune(store, url, "again", EvaluationLedger(store, "toy"), trials=2)
        off, _ = tune(store, url, "off", NoLedger(), trials=2)

    assert len(first.computed) == 3 * 3
    assert again.computed == []
    assert again_scores == {rp: score for rp, score in first_scores.items() if rp in again_scores}
    assert len(again_scores) == 2
    assert len(off.computed) == 2 * 3
