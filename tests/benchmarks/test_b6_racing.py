"""Benchmark B6's code on tiny sizes: the simulated pools, the race on them, and the table it writes."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from benchmarks.b6_racing import (
    HEADERS,
    SHAPES,
    add_arguments,
    draw_scores,
    rows_of,
    run_shape,
    run_trial,
    true_means,
)
from demo_search.search.racing import RaceSettings

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("shape", SHAPES)
def test_every_pool_shape_keeps_scores_inside_the_race_range(shape):
    rng = np.random.default_rng(0)
    means = true_means(shape, 500, rng)
    assert means.min() >= 0.25 and means.max() <= 0.75
    scores = draw_scores(shape, means, 400, rng)
    assert scores.min() >= 0.0 and scores.max() <= 1.0
    assert np.abs(scores.mean(axis=1) - means).mean() < 0.05  # each candidate's scores average to its true mean


def test_a_trial_pays_less_than_exhaustive_when_most_candidates_are_clearly_worse():
    settings = RaceSettings(delta=0.05, first_prompts=8, round_prompts=8, score_range=(0.0, 1.0))
    trial = run_trial("few_good", 3, candidates=60, prompts=48, settings=settings, epsilon=0.05)
    assert trial.exhaustive == 60 * 48
    assert trial.evaluations < trial.exhaustive
    assert trial.best_dropped == 0.0 and not trial.every_best_dropped and not trial.racing_bad


def test_a_shape_run_reports_rates_and_evaluations():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--candidates", "20", "--prompts", "16", "--seeds", "3"])
    result = run_shape("spread", args)
    assert result["seeds"] == 3 and result["exhaustive"] == 320
    assert 0 <= result["racing_bad"] <= 1 and result["evaluations_min"] <= result["evaluations"] <= 320
    (row,) = rows_of([result])
    assert len(row) == len(HEADERS)
