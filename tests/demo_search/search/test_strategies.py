import math

import pytest

from demo_search.search.candidates import Aggregate, CandidateSet, ScoredSet, rank, set_key
from demo_search.search.strategies import BeamSearch, OneShotRanking, RandomBaseline

POOL = ["a", "b", "c", "d"]
BASE = ScoredSet(CandidateSet(("u",)), Aggregate.of([0.5]))


def scored(proposals, scores):
    return [ScoredSet(p.candidate, Aggregate.of([s]), p.rank_hint) for p, s in zip(proposals, scores, strict=True)]


def test_aggregate_mean_and_standard_error():
    agg = Aggregate.of([1.0, 0.0, 1.0, 0.0], n_failed=2)
    assert agg.mean == 0.5 and agg.n == 4 and agg.n_failed == 2
    assert agg.stderr == pytest.approx(math.sqrt((4 * 0.25) / 3 / 4))
    assert not Aggregate.of([]).valid


def test_set_key_depends_on_order():
    assert set_key(["a", "b"]) != set_key(["b", "a"])
    assert CandidateSet(("a",)).extend("b").key == set_key(["a", "b"])


def test_greedy_proposes_every_remaining_item_and_keeps_the_best():
    beam = BeamSearch(1)
    base = ScoredSet(CandidateSet(("u", "b")), Aggregate.of([0.1]))
    proposals = beam.propose(1, [base], ["a", "b", "c"], [])
    assert [p.candidate.added for p in proposals] == ["a", "c"]
    assert all(p.candidate.demo_ids[:2] == ("u", "b") for p in proposals)
    survivors = beam.survivors(rank(scored(proposals, [0.2, 0.9])))
    assert [s.candidate.added for s in survivors] == ["c"]


def test_ties_go_to_the_earlier_pool_item_then_the_better_parent():
    proposals = BeamSearch(2).propose(1, [BASE, ScoredSet(CandidateSet(("v",)), Aggregate.of([0.4]))], POOL, [])
    ranked = rank(scored(proposals, [0.7] * len(proposals)))
    assert [(r.rank_hint, r.candidate.added) for r in ranked[:3]] == [((0, 0), "a"), ((0, 1), "b"), ((0, 2), "c")]
    # failed sets (no valid score) rank last whatever their hint
    failed = ScoredSet(CandidateSet(("z",)), Aggregate.of([]), (0, 0))
    assert rank([failed, ranked[-1]])[-1] is failed


def test_beam_keeps_width_sets():
    beam = BeamSearch(3)
    proposals = beam.propose(1, [BASE], POOL, [])
    survivors = beam.survivors(rank(scored(proposals, [0.1, 0.4, 0.3, 0.2])))
    assert [s.candidate.added for s in survivors] == ["b", "c", "d"]
    with pytest.raises(ValueError, match="beam width must be >= 1, got 0"):
        BeamSearch(0)


def test_random_baseline_is_seeded_and_never_repeats():
    strategy = RandomBaseline(seed=7)
    beams, picked = [BASE], []
    for step in range(1, 5):
        (proposal,) = strategy.propose(step, beams, POOL, [])
        picked.append(proposal.candidate.added)
        beams = [proposal]
    assert sorted(picked) == POOL
    again = RandomBaseline(seed=7).propose(1, [BASE], POOL, [])[0].candidate.added
    assert again == picked[0]
    assert strategy.propose(5, beams, POOL, []) == []


def test_one_shot_ranking_adds_items_in_first_step_order():
    strategy = OneShotRanking()
    first = strategy.propose(1, [BASE], POOL, [])
    ranked = rank(scored(first, [0.1, 0.9, 0.5, 0.7]))
    beams = strategy.survivors(ranked)
    assert beams[0].candidate.added == "b"
    (second,) = strategy.propose(2, beams, POOL, [ranked])
    assert second.candidate.demo_ids == ("u", "b", "d")
    (third,) = strategy.propose(3, [second], POOL, [ranked])
    assert third.candidate.demo_ids == ("u", "b", "d", "c")
