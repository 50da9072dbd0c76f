"""Bad inputs during a run: a unit the engine fails, a candidate over the context window, judgements that do
not parse. Each run ends with a clear message (a failed step, by default, for a unit the engine fails) and keeps
everything it stored.

The runs go through ``demo-search run`` in this process (typer's runner) on this process's Ray, with the real
transformers engine in Ray actors. The engine failure is injected through the dispatcher's ``engine_factory``
hook: the actors run the real engine wrapped by ``FailingEngine``, which raises for one candidate set.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest
import ray

import workers.dispatch
from demo_search.search.candidates import set_key
from demo_search.search.step_failures import SKIPPED_NOTE
from demo_search.types import Demonstration
from tests.support import harness
from tests.support.harness import SearchDb
from tests.workers.dying import DyingFactory
from tests.workers.fakes import FailingEngine
from workers.engine import Engine
from workers.engines import create_engine
from workers.spec import EngineSpec

pytestmark = pytest.mark.slow

PROMPTS = 4
LONG_DEMO = Demonstration.single("spell a long word", "z" * 240, source="test:long")
"""A candidate whose prompts need ~460 tokens: over the 400-token context the failure test sets."""
MAX_CONTEXT = 400


def failing_engine(fail_on: str, spec: EngineSpec) -> Engine:
    return FailingEngine(create_engine(spec), frozenset({fail_on}))


# The actors cannot import this test module by name, so its engine travels by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])



def test_an_engine_failure_fails_its_step_and_a_run_with_skip_chooses_among_the_rest_naming_it(
    tmp_path: Path, model_dir: Path, ray_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = harness.write_search_data(tmp_path / "data", model_dir, prompts=PROMPTS, extra_pool=[LONG_DEMO])
    db_path = tmp_path / "failures.db"
    config = harness.write_config(
        tmp_path / "failures.yaml", files, name="failures", db=db_path,
        model={"max_context": MAX_CONTEXT}, strategy={"max_steps": 2},
    )
    failing = files.pool_items[1]
    failing_key = set_key((failing.id,))
    factory = functools.partial(failing_engine, failing_key)
    monkeypatch.setattr(workers.dispatch, "Dispatcher", functools.partial(workers.dispatch.Dispatcher, engine_factory=factory))
    db = SearchDb(db_path, "failures")

    failed_run = harness.invoke("run", str(config))

    # By default the step with a failed candidate chooses nothing, and says which candidate failed and why.
    assert failed_run.exit_code == 1, failed_run.output
    assert isinstance(failed_run.exception, SystemExit), failed_run.exception  # a message, not a traceback
    output = " ".join(failed_run.output.split())
    assert "step 1 failed: 1 candidate set(s) failed on every attempt, so the step chose nothing" in output
    assert (
        f"candidate {failing.id}: failed after 3 attempt(s); last error: RuntimeError: injected engine failure"
        in output
    )
    assert db.status() == "failed" and len(db.trajectory()) == 1
    stored_before = db.rows_per_set()
    assert failing_key not in stored_before and len(stored_before) == 1 + 5  # base set; step 1 less failed, skipped

    # Run again with skip (the fault still there): only the failed unit is sent again, and fails again.
    skip_run = harness.invoke("run", str(config), "--set", "strategy.on_failed_candidate=skip")

    assert skip_run.exit_code == 0, skip_run.output
    assert "search failures finished: max_steps (2) reached" in skip_run.output
    assert "1 unit(s) failed" in skip_run.output
    assert f"unit 1:{failing_key} failed after 3 attempt(s): RuntimeError: injected engine failure" in skip_run.output
    candidates = {(row[0], row[3]): row for row in db.candidates()}  # (step, added item) -> row
    failed = candidates[(1, failing.id)]
    assert failed[4] == "failed" and failed[5] is None
    assert failed[8] == (
        f"engine failure after 3 attempt(s): RuntimeError: injected engine failure on branch {failing_key}; "
        f"{SKIPPED_NOTE}"
    )
    for step in (1, 2):
        skipped = candidates[(step, LONG_DEMO.id)]
        assert skipped[4] == "skipped" and skipped[5] is None
        assert skipped[8].startswith("its longest prompt needs ") and skipped[8].endswith(
            f"tokens (with its reference) but the context window is {MAX_CONTEXT}"
        )
    # Every other candidate set was evaluated on every prompt and stored once; the failed and skipped ones have no rows.
    evaluated = {row[1] for row in db.candidates() if row[4] == "scored"}
    assert db.rows_per_set() == {key: PROMPTS for key in evaluated}
    assert {key: db.rows_per_set()[key] for key in stored_before} == stored_before
    assert len(evaluated) == 1 + 5 + 5  # base set; 7 sets of step 1 less the failed and the skipped; 6 of step 2 less one
    chosen = [row[2] for row in db.trajectory()]
    assert failing.id not in chosen and LONG_DEMO.id not in chosen
    assert db.status() == "finished"

    status = harness.invoke("status", "failures", "--db", harness.sqlite_url(db_path))
    assert status.exit_code == 0, status.output
    rows = harness.status_rows(status.output)
    assert [(row[0], row[-1]) for row in rows] == [
        ("0", "1"), ("1", "7 (1 skipped, 1 failed)"), ("2", "6 (1 skipped)")
    ]


def test_an_engine_that_dies_mid_unit_is_rebuilt_and_the_search_reaches_the_undisturbed_trajectory(
    tmp_path: Path, model_dir: Path, ray_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = harness.write_search_data(tmp_path / "data", model_dir, prompts=PROMPTS)
    configs = {
        name: harness.write_config(
            tmp_path / f"{name}.yaml", files, name=name, db=tmp_path / f"{name}.db", strategy={"max_steps": 1}
        )
        for name in ("clean", "dying")
    }
    assert harness.invoke("run", str(configs["clean"])).exit_code == 0
    dying_key = set_key((files.pool_items[2].id,))
    factory = DyingFactory(die_on=dying_key, how="cuda-oom")
    monkeypatch.setattr(workers.dispatch, "Dispatcher", functools.partial(workers.dispatch.Dispatcher, engine_factory=factory))

    result = harness.invoke("run", str(configs["dying"]))

    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "died, rebuilding it: EngineDeadError: " in output and "(OutOfMemoryError: CUDA out of memory" in output
    assert "0 unit(s) failed" in output
    clean, dying = SearchDb(tmp_path / "clean.db", "clean"), SearchDb(tmp_path / "dying.db", "dying")
    assert dying.status() == "finished"
    assert {row[1]: row[4] for row in dying.candidates()}[dying_key] == "scored"
    assert dying.rows_per_set() == clean.rows_per_set()  # every pair once, the retried unit's too
    for got, want in zip(dying.trajectory(), clean.trajectory(), strict=True):
        assert got[:3] == want[:3] and got[3] == pytest.approx(want[3], abs=1e-6)


def test_unparsable_judgements_end_the_run_with_a_clear_message_and_stay_stored(
    tmp_path: Path, model_dir: Path, ray_address: str
) -> None:
    from workers.tiny import build_random_model_dir

    # A random judge never writes a "[[rating]]"; its context holds the MT-Bench judge prompt.
    judge = build_random_model_dir(
        tmp_path / "judge", seed=1, **{**harness.MODEL_CONFIG, "max_position_embeddings": 4096}
    )
    files = harness.write_search_data(tmp_path / "data", model_dir, prompts=3)
    db_path = tmp_path / "judged.db"
    config = harness.write_config(
        tmp_path / "judged.yaml", files, name="judged", db=db_path,
        scorer={"kind": "judge", "judge": {"backend": "local", "model": str(judge), "max_tokens": 8}},
        decoding={"max_tokens": 6},
    )

    result = harness.invoke("run", str(config))

    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # a message, not a traceback
    assert "no candidate of step 0 could be scored" in result.output
    assert "all 3 evaluations failed, e.g. unparsable judgement" in result.output
    db = SearchDb(db_path, "judged")
    assert db.status() == "failed" and db.lease_owner() is None
    assert db.evaluation_count() == 3 and set(db.evaluations().values()) == {None}
    [base] = db.candidates()
    assert base[4] == "failed" and base[8].startswith("all 3 evaluations failed, e.g. unparsable judgement")
