"""``EngineActor`` as a plain object in the test process (Ray only adds the process around it)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.workers.dying import DyingFactory
from tests.workers.fakes import FailingEngine
from workers.actor import EngineActor, RunReply
from workers.decoding import DecodingParams
from workers.engines import create_engine
from workers.errors import EngineDeadError, EngineError
from workers.spec import EngineSpec
from workers.tree import Branch, GenerateResult, Leaf, PrefixTree, ScoreResult
from workers.units import WorkUnit


@pytest.fixture
def spec(random_model_dir: Path) -> EngineSpec:
    return EngineSpec(kind="transformers", model=str(random_model_dir), batch_size=2)


def tree(seed: int = 0) -> PrefixTree:
    rng = random.Random(seed)

    def ids(n: int) -> tuple[int, ...]:
        return tuple(rng.randrange(3, 259) for _ in range(n))

    return PrefixTree((1,) + ids(30), (Branch("c", ids(10)),), tuple(Leaf(f"q{i}", ids(6), ids(5)) for i in range(3)))


def test_the_engine_is_built_on_first_need_and_again_after_shutdown(spec):
    actor = EngineActor(spec)
    incarnation = actor.ready()
    assert actor.counters().engine_loads == 0  # placing the actor loads nothing

    assert actor.load() == incarnation and actor.load() == incarnation
    assert actor.counters().engine_loads == 1

    actor.shutdown()
    reply = actor.run(WorkUnit("u", "score", tree()))
    counters = actor.counters()
    assert (counters.engine_loads, counters.units_run, counters.warm_calls) == (2, 1, 0)
    assert reply.incarnation == incarnation


def test_run_scores_or_generates_like_the_engine_and_warm_serves_the_prefix_from_cache(spec):
    actor, engine = EngineActor(spec), create_engine(spec)
    work = tree(1)
    actor.warm(work.prefix_ids)

    scored = actor.run(WorkUnit("s", "score", work))
    params = DecodingParams(max_tokens=4)
    generated = actor.run(WorkUnit("g", "generate", work, params))

    assert isinstance(scored, RunReply) and isinstance(scored.result, ScoreResult)
    assert [s.token_logprobs for s in scored.result.scores] == [s.token_logprobs for s in engine.score(work).scores]
    assert scored.result.scores[0].tokens.cached_tokens == len(work.prefix_ids)  # the warmed prefix
    assert isinstance(generated.result, GenerateResult)
    assert [g.token_ids for g in generated.result.generations] == [
        g.token_ids for g in engine.generate(work, params).generations
    ]
    assert actor.counters().warm_calls == 1 and actor.counters().units_run == 2


def test_an_engine_that_cannot_load_raises_its_own_error(tmp_path):
    actor = EngineActor(EngineSpec(kind="transformers", model=str(tmp_path / "missing")))
    actor.ready()
    with pytest.raises(EngineError, match="missing"):
        actor.load()


@pytest.mark.parametrize("how", ["engine-dead", "cuda-oom"])
def test_an_engine_that_dies_mid_unit_is_discarded_and_the_next_call_builds_a_new_one(spec, how):
    actor = EngineActor(spec, DyingFactory(die_on="c", how=how))
    unit = WorkUnit("u", "score", tree(2))

    with pytest.raises(EngineDeadError, match=r"died while running unit u \((EngineDeadError|OutOfMemoryError): "):
        actor.run(unit)
    counters = actor.counters()
    assert (counters.engine_loads, counters.engine_deaths, counters.units_run) == (1, 1, 0)

    actor.load()  # what the dispatcher's probe does: the new engine is built from the spec
    reply = actor.run(unit)

    counters = actor.counters()
    assert (counters.engine_loads, counters.engine_deaths, counters.units_run) == (2, 1, 1)
    expected = create_engine(spec).score(unit.tree)
    assert [s.token_logprobs for s in reply.result.scores] == [s.token_logprobs for s in expected.scores]


def test_an_ordinary_engine_error_leaves_the_engine_in_place(spec):
    actor = EngineActor(spec, lambda s: FailingEngine(create_engine(s), frozenset({"c"})))

    with pytest.raises(RuntimeError, match="injected engine failure on branch c"):
        actor.run(WorkUnit("u", "score", tree(5)))

    counters = actor.counters()
    assert (counters.engine_loads, counters.engine_deaths) == (1, 0)
