"""Placement: what an actor asks for (``ActorOptions``) and why it may not fit, then placement on a multi-node Ray
cluster: filling it, growing when nodes join, losing a node, tensor-parallel groups.

The cluster is real: ``ray.cluster_utils.Cluster`` starts a head and worker raylets on this machine, and a test
removes a node by killing its processes. A custom resource ``accelerator`` (and fake ``num_gpus``) stands in for
GPUs. The module shuts down any Ray the session started before, so it owns the driver connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster

from tests.support.local_ray import start_cluster
from tests.workers.fakes import assert_each_once, make_units
from tests.workers.gates import GatedFactory, Gates
from workers.dispatch import Dispatcher, PlacementError
from workers.placement import ActorOptions, cluster_capacity, explain_unplaceable, fit_count
from workers.spec import EngineSpec

ON_ACCELERATOR = ActorOptions(num_cpus=0.5, resources={"accelerator": 1}, max_restarts=-1)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if ray.is_initialized():
        ray.shutdown()
    cluster = start_cluster(num_cpus=1)
    ray.init(address=cluster.address, logging_level="WARNING", log_to_driver=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


@pytest.fixture
def nodes(cluster: Cluster) -> Iterator[Callable[..., object]]:
    """``add(**node_args)`` adds a worker node and waits for it; every node added is removed after the test."""
    added = []

    def add(**node_args):
        node = cluster.add_node(num_cpus=1, **node_args)
        cluster.wait_for_nodes()
        added.append(node)
        return node

    yield add
    for node in added:
        if node in cluster.worker_nodes:
            cluster.remove_node(node, allow_graceful=False)


@pytest.fixture(scope="module")
def spec(random_model_dir: Path) -> EngineSpec:
    return EngineSpec(kind="transformers", model=str(random_model_dir), batch_size=4)


def test_actor_options_name_what_an_actor_asks_for():
    options = ActorOptions(num_cpus=0.5, num_gpus=1, resources={"node_a": 1})
    assert options.demand() == {"CPU": 0.5, "GPU": 1.0, "node_a": 1}
    assert ActorOptions(num_cpus=0).demand() == {}
    assert [ActorOptions(num_cpus=n).threads() for n in (0, 0.5, 3.7)] == [1, 1, 3]
    assert ActorOptions(num_cpus=4, cpu_threads=2).threads() == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(num_cpus=-1), "num_cpus and num_gpus must be >= 0"),
        (dict(resources={"GPU": 1}), "custom names"),
        (dict(resources={"slot": 0}), "amounts > 0"),
        (dict(max_restarts=-2), "max_restarts and max_task_retries must be >= -1"),
        (dict(cpu_threads=0), "cpu_threads must be >= 1"),
    ],
)
def test_actor_options_reject_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ActorOptions(**kwargs)


def test_explain_unplaceable_sees_resources_in_use_and_dead_nodes():
    nodes = [
        {"Alive": True, "Resources": {"CPU": 8.0, "GPU": 1.0}},
        {"Alive": False, "Resources": {"CPU": 8.0, "GPU": 4.0}},
    ]
    assert explain_unplaceable({"CPU": 1.0, "GPU": 1.0}, nodes).endswith("in use by other actors or tasks")
    assert explain_unplaceable({"GPU": 2.0}, nodes) == "'GPU': asked 2, the largest node has 1"
    assert explain_unplaceable({"GPU": 1.0}, nodes[1:]) == "the cluster has no alive node"


def test_fit_count_takes_the_scarcest_resource():
    assert fit_count({"CPU": 1.0, "GPU": 2.0}, {"CPU": 8.0, "GPU": 5.0}) == 2
    assert fit_count({"CPU": 0.5, "accelerator": 1.0}, {"CPU": 4.0}) == 0
    assert fit_count({"CPU": 0.1}, {"CPU": 0.3}) == 3  # no fixed-point rounding loss
    with pytest.raises(ValueError, match="at least one resource"):
        fit_count({}, {"CPU": 1.0})


def test_a_pool_that_fills_the_cluster_grows_when_a_node_joins_mid_run(cluster, nodes, spec):
    nodes(resources={"accelerator": 1})
    assert cluster_capacity(ON_ACCELERATOR) == 1
    units = make_units(150, leaves=60, target=60, seed=5)  # long enough for a new actor to load and join

    with Dispatcher(spec, None, actor_options=ON_ACCELERATOR, grow_interval_s=0.5) as dispatcher:
        assert list(dispatcher.actors) == ["engine-0"]
        iterator = dispatcher.run(units)
        results = [next(iterator)]
        nodes(resources={"accelerator": 1})
        results += list(iterator)
        actors = list(dispatcher.actors)

    assert_each_once(results, units)
    assert all(r.ok for r in results)
    assert actors == ["engine-0", "engine-1"]
    assert any(r.actor == "engine-1" for r in results), "the actor that joined took no unit"


def test_a_dead_node_costs_nothing_and_its_actor_rejoins_when_a_node_is_back(cluster, nodes, spec, tmp_path):
    nodes(resources={"accelerator": 1})
    nodes(resources={"accelerator": 1})
    units = make_units(12, leaves=6, seed=6)
    gates = Gates(tmp_path)
    held_unit = "u1"  # its first run never ends: its node is removed while the unit is surely in flight
    # The surviving actor, once paused, starts no unit before the restarted one has finished a unit: the run
    # cannot end without the restarted actor rejoining, however the work is timed.
    factory = GatedFactory(tmp_path, hold_branch="c1")

    # Growing is off here: a node that joins right after another died could otherwise be taken by a new actor
    # before Ray places the restarting one there (the pool keeps its size either way; this test is about rejoining).
    with Dispatcher(
        spec, None, actor_options=ON_ACCELERATOR, probe_interval_s=0.2, grow_interval_s=3600, engine_factory=factory
    ) as dispatcher:
        before = {name: c.incarnation for name, c in dispatcher.actor_counters().items()}
        assert len(before) == 2
        iterator = dispatcher.run(units)
        results = [next(iterator)]
        held = gates.wait_until_held()
        gates.pause_early_engines()
        cluster.remove_node(next(n for n in cluster.worker_nodes if n.node_id == held.node_id), allow_graceful=False)
        nodes(resources={"accelerator": 1})  # Ray places the restarting actor there
        results += list(iterator)
        stats = dispatcher.stats
        after = dispatcher.actor_counters()

    assert_each_once(results, units)  # nothing lost, nothing yielded twice
    assert all(r.ok for r in results)
    by_id = {r.unit_id: r for r in results}
    assert 2 <= by_id[held_unit].attempts <= 3  # retried, within max_attempts (3)
    assert all(r.attempts == 1 for r in results if r.unit_id != held_unit)
    assert stats.retries == sum(r.attempts - 1 for r in results)  # every extra run was counted
    assert stats.actor_deaths == 1 and stats.actors_lost == 0
    restarted = [name for name, counters in after.items() if counters.incarnation != before[name]]
    assert len(restarted) == 1, f"incarnations before {before}, after {after}"
    assert after[restarted[0]].units_run > 0, "the restarted actor took no unit after it rejoined"
    assert any(r.actor == restarted[0] for r in results)


def test_a_tensor_parallel_actor_gets_a_one_node_placement_group_released_on_close(cluster, nodes, spec):
    node = nodes(num_gpus=2)
    options = ActorOptions(num_cpus=0.5, num_gpus=2, tensor_parallel_size=2)
    units = make_units(2, leaves=4)

    with Dispatcher(spec, None, actor_options=options) as dispatcher:
        assert len(dispatcher.actors) == 1  # one node offers 2 GPUs: room for one 2-GPU actor
        results = list(dispatcher.run(units))
        (group,) = [g for g in ray.util.placement_group_table().values() if g["state"] == "CREATED"]
    assert_each_once(results, units)
    assert group["strategy"] == "STRICT_PACK"
    assert list(group["bundles"].values()) == [{"CPU": 0.5, "GPU": 1.0}, {"GPU": 1.0}]
    assert set(group["bundles_to_node_id"].values()) == {node.node_id}
    table = ray.util.placement_group_table()
    assert all(g["state"] == "REMOVED" for g in table.values()), table


@pytest.mark.parametrize(
    ("num_actors", "named"),
    [
        (1, "1 of 1 engine actor(s) could not be placed within 2 s"),
        (None, "the cluster has no room for an engine actor asking for {CPU: 0.5, GPU: 4}"),
    ],
    ids=["fixed-count", "fill-the-cluster"],
)
def test_a_tensor_parallel_actor_larger_than_any_node_fails_naming_the_gpus(cluster, nodes, spec, num_actors, named):
    nodes(num_gpus=2)
    nodes(num_gpus=2)  # 4 GPUs in the cluster, but never 4 on one node
    options = ActorOptions(num_cpus=0.5, num_gpus=4, tensor_parallel_size=4)
    with pytest.raises(PlacementError) as caught:
        Dispatcher(spec, num_actors, actor_options=options, placement_timeout_s=2.0)
    message = str(caught.value)
    assert named in message and "'GPU': asked 4, the largest node has 2" in message
    assert all(g["state"] == "REMOVED" for g in ray.util.placement_group_table().values())
