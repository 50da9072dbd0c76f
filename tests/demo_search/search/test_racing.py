"""The race as a pure function of stored scores, and its test's error probability."""

from __future__ import annotations

import math

import numpy as np
import pytest

from demo_search.search.race_bounds import log_wealth, p_values
from demo_search.search.racing import (
    RaceSettings,
    conversation_roots,
    item_scores,
    prompt_order,
    race,
    round_sizes,
)
from demo_search.types import HeldOutPrompt

SETTINGS = RaceSettings(delta=0.05, first_prompts=8, round_prompts=8, score_range=(0.0, 1.0))
ITEMS = [f"p{i}" for i in range(40)]


def play(keys, truth, settings=SETTINGS, order=ITEMS):
    """Run a race to its end the way the driver does: compute what it needs, store it, ask again."""
    scores: dict[str, dict[str, float | None]] = {}
    asked = 0
    while not (state := race(keys, scores, order, settings)).finished:
        for key, items in state.needed.items():
            for item in items:
                scores.setdefault(key, {})[item] = truth(key, item)
                asked += 1
    return state, scores, asked


def test_round_sizes_grow_by_round_prompts_up_to_every_item():
    assert round_sizes(40, SETTINGS) == (8, 16, 24, 32, 40)
    assert round_sizes(5, SETTINGS) == (5,)


def test_prompt_order_is_seeded_and_a_permutation():
    first = prompt_order(ITEMS, seed=1, step=2)
    assert first == prompt_order(ITEMS, seed=1, step=2) != prompt_order(ITEMS, seed=1, step=3)
    assert sorted(first) == sorted(ITEMS)


def test_clearly_worse_candidates_leave_early_and_the_survivors_see_every_item():
    keys = ["best", "second"] + [f"bad{i}" for i in range(20)]
    value = {"best": 0.9, "second": 0.85}
    state, scores, asked = play(keys, lambda key, item: value.get(key, 0.05))
    assert set(state.contenders) >= {"best", "second"}
    assert {e.key for e in state.eliminated} == {f"bad{i}" for i in range(20)}
    assert all(len(scores[key]) == len(ITEMS) for key in state.contenders)
    for elimination in state.eliminated:
        assert len(scores[elimination.key]) == elimination.prompts < len(ITEMS)
        assert elimination.p_value <= elimination.level == pytest.approx(0.05 / 21)
        assert elimination.leaders == ("best",) and elimination.difference == pytest.approx(-0.85)
    assert asked < len(keys) * len(ITEMS) / 2


def test_replaying_from_the_stored_scores_gives_the_same_race_and_asks_only_for_missing_pairs():
    keys = ["a", "b", "c", "d"]
    value = {"a": 0.9, "b": 0.1, "c": 0.5, "d": 0.1}
    final, scores, _ = play(keys, lambda key, item: value[key])
    assert race(keys, scores, ITEMS, SETTINGS) == final  # the stored scores alone give the same eliminations
    partial = {key: dict(list(items.items())[:8]) for key, items in scores.items()}
    state = race(keys, partial, ITEMS, SETTINGS)
    assert state.round == 2 and all(len(needed) == 8 for needed in state.needed.values())


def test_equal_candidates_are_never_eliminated_and_a_beam_keeps_its_width():
    state, _, asked = play(["a", "b", "c"], lambda key, item: 0.5)
    assert state.eliminated == () and asked == 3 * len(ITEMS)
    beam = RaceSettings(delta=0.05, first_prompts=8, round_prompts=8, score_range=(0.0, 1.0), survivors=2)
    value = {"a": 0.9, "b": 0.8}
    state, _, _ = play(["a", "b", "c", "d", "e"], lambda key, item: value.get(key, 0.0), settings=beam)
    assert state.contenders == ("a", "b")


def test_failed_evaluations_count_as_seen_but_are_left_out_of_the_pairs():
    value = {"a": 0.9}
    state, scores, _ = play(["a", "b"], lambda key, item: None if key == "b" else value[key])
    assert state.eliminated == () and len(scores["b"]) == len(ITEMS)  # no pair: no evidence against b


def test_a_candidate_losing_every_prompt_is_dropped_after_about_log_1_over_alpha_prompts():
    level = 0.05 / 999
    losing = np.full((1, 40), -1.0)
    needed = next(n for n in range(1, 41) if p_values(losing[:, :n], width=1.0)[0] <= level)
    assert math.log(1 / level) / math.log(2) <= needed <= 24


def test_the_betting_test_rejects_a_true_null_at_most_alpha_of_the_time():
    rng = np.random.default_rng(0)
    alpha = 0.05
    for draw in (
        lambda size: rng.choice([-1.0, 1.0], size),  # the hardest bounded case: all mass at the ends
        lambda size: rng.uniform(-0.3, 0.3, size),
        lambda size: np.where(rng.random(size) < 0.9, 0.1, -0.9),  # mean 0, skewed
    ):
        differences = draw((4000, 64))
        rejected = (log_wealth(differences, width=1.0) >= math.log(1 / alpha)).mean()
        assert rejected <= alpha, rejected


def test_item_scores_average_each_conversation_and_need_its_first_prompt():
    first = HeldOutPrompt.create("q1", "r1")
    second = HeldOutPrompt.create("q2", "r2", follows=first.id)
    roots = conversation_roots([first, second])
    assert roots == {first.id: first.id, second.id: first.id}
    assert item_scores({first.id: 1.0, second.id: 0.0}, roots) == {first.id: 0.5}
    assert item_scores({second.id: 0.0}, roots) == {}
    assert item_scores({first.id: None}, roots) == {first.id: None}


def test_settings_are_checked():
    with pytest.raises(ValueError, match="score range"):
        RaceSettings(delta=0.05, first_prompts=8, round_prompts=8, score_range=(1.0, 1.0))
    with pytest.raises(ValueError, match="delta"):
        RaceSettings(delta=1.5, first_prompts=8, round_prompts=8, score_range=(0.0, 1.0))
