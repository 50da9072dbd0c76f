"""Work units and unit results reject contradictory values, naming the unit."""

from __future__ import annotations

import pytest

from workers.decoding import DecodingParams
from workers.tree import Branch, CallStats, Leaf, PrefixTree, ScoreResult
from workers.units import UnitResult, WorkUnit

TREE = PrefixTree((1, 5), (Branch("c", (6,)),), (Leaf("q", (7,), (8,)),))
SCORES = ScoreResult(scores=(), stats=CallStats(0.0, 0, 0, 0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(unit_id="", kind="score"), "unit_id must not be empty"),
        (dict(unit_id="u1", kind="generate"), "unit 'u1': kind 'generate' needs DecodingParams"),
        (dict(unit_id="u2", kind="score", params=DecodingParams()), "unit 'u2': kind 'score' takes no params"),
        (dict(unit_id="u3", kind="rank"), "unit 'u3': kind must be 'score' or 'generate', got 'rank'"),
    ],
)
def test_a_work_unit_rejects_contradictions(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WorkUnit(tree=TREE, **kwargs)


def test_a_unit_result_is_either_a_result_or_an_error():
    assert UnitResult("u", True, SCORES, None, 1, "engine-0").ok
    assert not UnitResult("u", False, None, "RuntimeError: boom", 3, "engine-1").ok
    for ok, result, error in [(True, None, None), (False, SCORES, "x"), (True, SCORES, "x"), (False, None, None)]:
        with pytest.raises(ValueError, match="unit 'u': an ok result carries result and no error"):
            UnitResult("u", ok, result, error, 1, "engine-0")
