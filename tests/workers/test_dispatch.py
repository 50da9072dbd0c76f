"""The dispatcher on real Ray actors running the real transformers engine on a random tiny Llama.

Ray starts once for the module (``ray_local``, ~10 s). Starting actors costs ~10 s (the engine load), so
the tests that keep their actors healthy share one pool (``pool``); the others start their own.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

from tests.support.local_ray import init_local_ray
from tests.workers.dying import DyingFactory
from tests.workers.fakes import PREFIX, FailingEngine, assert_each_once, make_units
from tests.workers.gates import GatedFactory, Gates
from workers.decoding import DecodingParams
from workers.dispatch import Dispatcher, NoLiveActorsError, PlacementError
from workers.engine import Engine
from workers.engines import create_engine
from workers.errors import WorkerError
from workers.placement import ActorOptions
from workers.spec import EngineSpec
from workers.tree import Branch, GenerateResult, PrefixTree, ScoreResult
from workers.units import WorkUnit

# Actors ask for half a CPU each, so two actors and a restarted one fit on the 2-CPU local cluster.
HALF_CPU = ActorOptions(num_cpus=0.5)


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    """A local Ray instance with 2 CPUs and no dashboard (reused if the session already started one)."""
    if ray.is_initialized():
        yield
        return
    init_local_ray(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def spec(random_model_dir: Path) -> EngineSpec:
    return EngineSpec(kind="transformers", model=str(random_model_dir), batch_size=4)


@pytest.fixture(scope="module")
def local_engine(spec: EngineSpec) -> Iterator[Engine]:
    """The same engine, in the test process: what the actors must reproduce."""
    engine = create_engine(spec)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def pool(ray_local, spec: EngineSpec) -> Iterator[Dispatcher]:
    """Two healthy actors shared by the tests that neither kill nor close them."""
    with Dispatcher(spec, 2, actor_options=HALF_CPU) as dispatcher:
        yield dispatcher


def run_locally(engine: Engine, unit: WorkUnit) -> ScoreResult | GenerateResult:
    if unit.kind == "score":
        return engine.score(unit.tree)
    return engine.generate(unit.tree, unit.params)


def assert_same_output(got: ScoreResult | GenerateResult, want: ScoreResult | GenerateResult) -> None:
    """Same log-probabilities (fp32, up to thread-count rounding) or the same generated tokens."""
    if isinstance(want, ScoreResult):
        assert isinstance(got, ScoreResult)
        assert [(s.branch_id, s.leaf_id) for s in got.scores] == [(s.branch_id, s.leaf_id) for s in want.scores]
        for g, w in zip(got.scores, want.scores, strict=True):
            assert g.count == w.count
            assert max(abs(a - b) for a, b in zip(g.token_logprobs, w.token_logprobs, strict=True)) <= 1e-5
    else:
        assert isinstance(got, GenerateResult)
        assert [(g.leaf_id, g.token_ids, g.text, g.finish_reason) for g in got.generations] == [
            (g.leaf_id, g.token_ids, g.text, g.finish_reason) for g in want.generations
        ]


def pid_once_back(handle, timeout_s: float = 60.0) -> int:
    """The actor's pid, asking again while Ray answers that it is restarting."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return ray.get(handle.pid.remote(), timeout=timeout_s)
        except ray.exceptions.ActorUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def wait_until_gone(pid: int, timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def failing_on_c1(spec: EngineSpec) -> Engine:
    return FailingEngine(create_engine(spec), frozenset({"c1"}))


# Ray workers cannot import this test module by name, so its test-only engine travels by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


# -- the queue on healthy actors ------------------------------------------------------------------


def test_every_unit_once_with_the_in_process_results_and_the_prefix_warmed_once_per_actor(pool, local_engine):
    scored = make_units(7, leaves=4, seed=1)
    greedy = DecodingParams(max_tokens=8)
    generate = [WorkUnit(f"gen-{u.unit_id}", "generate", u.tree, greedy) for u in scored[:2]]
    units = scored + generate
    before, counters_before = pool.stats, pool.actor_counters()

    results = list(pool.run(units))
    stats = pool.stats - before
    counters = pool.actor_counters()

    assert_each_once(results, units)
    assert all(r.ok and r.attempts == 1 for r in results)
    by_id = {r.unit_id: r for r in results}
    for unit in units:
        assert_same_output(by_id[unit.unit_id].result, run_locally(local_engine, unit))

    # Both actors were free at the start, so both took units (which took which depends on timing).
    assert {r.actor for r in results} == set(pool.actors)

    # The new prefix was warmed once per actor, and every unit's first request read it from cache.
    warms = {name: c.warm_calls - counters_before[name].warm_calls for name, c in counters.items()}
    assert warms == {"engine-0": 1, "engine-1": 1} and stats.prefix_warms == 2
    assert sum(c.units_run - counters_before[name].units_run for name, c in counters.items()) == len(units)
    assert {c.torch_threads for c in counters.values()} == {1}  # half a CPU each: one thread
    for r in results:
        first = r.result.scores[0] if isinstance(r.result, ScoreResult) else r.result.generations[0]
        assert first.tokens.cached_tokens == PREFIX
    assert stats.units_done == len(units) and stats.units_failed == stats.retries == stats.actor_deaths == 0
    assert stats.computed_tokens == sum(r.result.stats.computed_tokens for r in results)
    assert stats.cached_tokens == sum(r.result.stats.cached_tokens for r in results)


def test_closing_the_iterator_early_sends_no_more_units_and_the_pool_stays_usable(pool, local_engine):
    units = make_units(8, leaves=40, seed=5)
    done_before = pool.stats.units_done
    ran_before = sum(c.units_run for c in pool.actor_counters().values())

    iterator = pool.run(units)
    first = next(iterator)
    iterator.close()  # the driver stops here (e.g. Ctrl-C)
    # One unit was yielded and each actor had at most one more in flight; the queued ones never ran.
    ran = sum(c.units_run for c in pool.actor_counters().values()) - ran_before
    time.sleep(0.5)
    assert sum(c.units_run for c in pool.actor_counters().values()) - ran_before == ran <= 3

    again = make_units(2, leaves=3, seed=6, id_prefix="again")
    results = list(pool.run(again))
    assert_each_once(results, again)  # nothing of the abandoned run leaks into this one
    for r, unit in zip(sorted(results, key=lambda r: r.unit_id), again, strict=True):
        assert_same_output(r.result, run_locally(local_engine, unit))
    assert first.ok and pool.stats.units_done - done_before == 3


# -- failing units and shutdown ---------------------------------------------------------------------


def test_a_unit_that_keeps_failing_comes_back_failed_and_close_kills_every_actor(ray_local, spec):
    units = make_units(4, leaves=3, seed=4)
    long_branch = (Branch("long", (5,) * 500),)
    too_long = WorkUnit("too-long", "score", PrefixTree(units[0].tree.prefix_ids, long_branch, units[0].tree.leaves))
    units.append(too_long)

    with Dispatcher(spec, 1, actor_options=HALF_CPU, max_attempts=2, engine_factory=failing_on_c1) as dispatcher:
        results = list(dispatcher.run(units))
        stats = dispatcher.stats
        handles = dispatcher.actors
        pids = {name: ray.get(handle.pid.remote()) for name, handle in handles.items()}

    assert_each_once(results, units)
    by_id = {r.unit_id: r for r in results}
    assert not by_id["u1"].ok and by_id["u1"].attempts == 2
    assert by_id["u1"].error == "RuntimeError: injected engine failure on branch c1"
    # A request that does not fit the context fails at once: retrying cannot help.
    assert not by_id["too-long"].ok and by_id["too-long"].attempts == 1
    assert by_id["too-long"].error.startswith("ContextLengthError: ") and "max_context=512" in by_id["too-long"].error
    assert all(by_id[i].ok and by_id[i].attempts == 1 for i in ("u0", "u2", "u3"))
    assert stats.units_failed == 2 and stats.units_done == 3 and stats.retries == 1 and stats.actor_deaths == 0

    # Leaving the ``with`` block closed the dispatcher: its actors and their processes are gone (Ray
    # kills asynchronously, within moments).
    assert dispatcher.actors == {}
    for name, handle in handles.items():
        assert wait_until_gone(pids[name]), f"{name} (pid {pids[name]}) still runs after close()"
        with pytest.raises(ray.exceptions.RayActorError):
            ray.get(handle.pid.remote(), timeout=30)
    with pytest.raises(WorkerError, match="closed"):
        dispatcher.run(units)


# -- actor deaths -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("num_actors", "max_task_retries"),
    [(2, 0), (1, 1)],
    ids=["dispatcher-requeues-on-a-live-actor", "ray-reruns-on-the-restarted-actor"],
)
def test_an_actor_killed_mid_unit_costs_nothing_and_is_reported(
    ray_local, spec, local_engine, tmp_path, num_actors, max_task_retries
):
    units = make_units(4, leaves=6, seed=2)
    options = ActorOptions(num_cpus=0.5, max_restarts=1, max_task_retries=max_task_retries)
    gates = Gates(tmp_path)
    held_unit = "u1"  # its first run never ends: the actor is killed while it surely holds the unit
    factory = GatedFactory(tmp_path, hold_branch="c1")

    with Dispatcher(spec, num_actors, actor_options=options, engine_factory=factory) as dispatcher:
        names = {ray.get(handle.pid.remote()): name for name, handle in dispatcher.actors.items()}
        iterator = dispatcher.run(units)
        results = [next(iterator)]
        held = gates.wait_until_held()
        os.kill(held.pid, signal.SIGKILL)
        results += list(iterator)
        stats = dispatcher.stats
        new_pid = pid_once_back(dispatcher.actors[names[held.pid]])

    assert_each_once(results, units)  # nothing lost, nothing yielded twice
    assert all(r.ok for r in results)
    by_id = {r.unit_id: r for r in results}
    assert 2 <= by_id[held_unit].attempts <= 3  # retried, within max_attempts (3)
    assert all(r.attempts == 1 for r in results if r.unit_id != held_unit)
    assert stats.retries == sum(r.attempts - 1 for r in results)  # every extra run was counted
    assert stats.actor_deaths == 1 and stats.actors_lost == 0 and stats.units_done == len(units)
    assert new_pid != held.pid and wait_until_gone(held.pid)
    for unit in units:
        assert_same_output(by_id[unit.unit_id].result, run_locally(local_engine, unit))


# -- engine deaths inside a live actor ----------------------------------------------------------------


def test_an_engine_that_dies_mid_unit_is_rebuilt_in_its_actor_and_the_unit_succeeds(ray_local, spec, local_engine):
    units = make_units(4, leaves=3, seed=5)

    with Dispatcher(spec, 1, actor_options=HALF_CPU, engine_factory=DyingFactory(die_on="c1")) as dispatcher:
        [handle] = dispatcher.actors.values()
        pid = ray.get(handle.pid.remote())
        results = list(dispatcher.run(units))
        stats = dispatcher.stats
        [counters] = dispatcher.actor_counters().values()

    assert_each_once(results, units)
    assert all(r.ok for r in results)
    by_id = {r.unit_id: r for r in results}
    assert by_id["u1"].attempts == 2 and all(by_id[i].attempts == 1 for i in ("u0", "u2", "u3"))
    assert (stats.engine_deaths, stats.retries, stats.actor_deaths, stats.actors_lost) == (1, 1, 0, 0)
    # The same process built a second engine; nothing else was run twice.
    assert (counters.pid, counters.engine_loads, counters.engine_deaths, counters.units_run) == (pid, 2, 1, 4)
    for unit in units:
        assert_same_output(by_id[unit.unit_id].result, run_locally(local_engine, unit))


def test_an_engine_that_dies_on_every_try_fails_only_its_unit_within_max_attempts(ray_local, spec):
    units = make_units(4, leaves=3, seed=6)
    factory = DyingFactory(die_on="c1", deaths=100, how="cuda-oom")

    with Dispatcher(spec, 1, actor_options=HALF_CPU, max_attempts=3, engine_factory=factory) as dispatcher:
        results = list(dispatcher.run(units))
        stats = dispatcher.stats
        [counters] = dispatcher.actor_counters().values()

    assert_each_once(results, units)
    by_id = {r.unit_id: r for r in results}
    assert not by_id["u1"].ok and by_id["u1"].attempts == 3
    assert by_id["u1"].error.startswith("EngineDeadError: the transformers engine of actor ")
    assert "(OutOfMemoryError: CUDA out of memory." in by_id["u1"].error
    assert all(by_id[i].ok and by_id[i].attempts == 1 for i in ("u0", "u2", "u3"))
    assert (stats.engine_deaths, stats.retries, stats.units_failed, stats.actors_lost) == (3, 2, 1, 0)
    assert counters.engine_deaths == 3 and counters.engine_loads == 4  # each death was answered by one rebuild


@pytest.mark.parametrize(
    ("max_restarts", "recovery_timeout_s"),
    [(0, 600.0), (1, 0.5)],
    ids=["dead-for-good", "restart-not-back-within-the-recovery-timeout"],
)
def test_when_no_actor_is_left_the_unfinished_units_are_named(
    ray_local, spec, tmp_path, max_restarts, recovery_timeout_s
):
    units = make_units(4, leaves=6, seed=3)
    options = ActorOptions(num_cpus=0.5, max_restarts=max_restarts)
    gates = Gates(tmp_path)
    # u1's first run never ends, and a restarted actor never gets its engine back: the run cannot end by waiting.
    factory = GatedFactory(tmp_path, hold_branch="c1", stall_late_build=True)

    with Dispatcher(
        spec, 1, actor_options=options, recovery_timeout_s=recovery_timeout_s, engine_factory=factory
    ) as dispatcher:
        iterator = dispatcher.run(units)
        results = [next(iterator)]
        os.kill(gates.wait_until_held().pid, signal.SIGKILL)  # while it runs u1, sent before u0 was yielded
        with pytest.raises(NoLiveActorsError) as caught:
            for result in iterator:
                results.append(result)
        stats = dispatcher.stats

    assert [r.unit_id for r in results] == ["u0"] and results[0].ok
    assert "with 3 unit(s) not done: ['u1', 'u2', 'u3']" in str(caught.value)
    assert stats.actor_deaths == 1 and stats.actors_lost == 1 and dispatcher.actors == {}


# -- placement --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (ActorOptions(num_cpus=0.5, num_gpus=1), "no alive node has any 'GPU' (asked 1)"),
        (ActorOptions(num_cpus=0.5, resources={"tpu_slot": 2}), "no alive node has any 'tpu_slot' (asked 2)"),
        (ActorOptions(num_cpus=1000), "'CPU': asked 1000, the largest node has "),
    ],
    ids=["gpu", "custom-resource", "too-many-cpus"],
)
def test_an_actor_that_cannot_be_placed_fails_after_the_timeout_naming_the_resource(
    ray_local, spec, options, named
):
    with pytest.raises(PlacementError) as caught:
        Dispatcher(spec, 2, actor_options=options, placement_timeout_s=1.0)
    message = str(caught.value)
    assert "2 of 2 engine actor(s) could not be placed within 1 s" in message and named in message


def test_an_actor_placed_but_slow_to_start_is_waited_for_beyond_the_placement_timeout(ray_local, spec, tmp_path):
    """A loaded machine can take longer than the placement timeout to start a placed actor's worker process (a
    ``sitecustomize`` that sleeps at interpreter start stands in for it): the pool waits while the room is there."""
    (tmp_path / "sitecustomize.py").write_text("import time\ntime.sleep(4)\n")
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH", "")) if p)
    slow = ActorOptions(num_cpus=0.5, runtime_env={"env_vars": {"PYTHONPATH": path}})
    with Dispatcher(spec, 1, actor_options=slow, placement_timeout_s=1.0) as dispatcher:
        units = make_units(1, leaves=2, seed=9)
        results = list(dispatcher.run(units))
    assert_each_once(results, units)
    assert results[0].ok
