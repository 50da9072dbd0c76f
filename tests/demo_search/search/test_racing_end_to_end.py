"""Racing through ``run_search`` (config, Ray actors, the bundled tiny model, exact match): the quickstart raced
chooses the demonstrations the exhaustive quickstart chooses, and records its eliminations."""

from __future__ import annotations

from pathlib import Path

from db import CandidateStatus, Store
from demo_search.config import load_config
from demo_search.search.session import run_search

REPO = Path(__file__).resolve().parents[3]
QUICKSTART = REPO / "examples" / "quickstart.yaml"


def trajectory(db_url: str, *overrides: str):
    config = load_config(QUICKSTART, [f"database.url={db_url}", "strategy.max_steps=2", *overrides])
    run_search(config)
    with Store.open(db_url) as store:
        steps = store.steps(config.name)
        candidates = [store.candidates_of_step(config.name, step.step_index) for step in steps]
    return [step.item_id for step in steps], steps, candidates


def test_the_raced_quickstart_chooses_what_the_exhaustive_one_does(tmp_path: Path, ray_address: str) -> None:
    exhaustive, _, _ = trajectory(f"sqlite:///{tmp_path / 'all.db'}")
    raced, steps, candidates = trajectory(
        f"sqlite:///{tmp_path / 'raced.db'}", "strategy.racing.enabled=true", "strategy.racing.first_prompts=4",
        "strategy.racing.round_prompts=4",
    )
    assert raced == exhaustive
    step1 = steps[1].racing
    assert step1 is not None and step1["candidates"] == 24 and step1["exhaustive_evaluations"] == 24 * 16
    eliminated = [c for c in candidates[1] if c.status is CandidateStatus.ELIMINATED]
    assert len(eliminated) == len(step1["eliminated"])
    assert step1["evaluations"] == step1["exhaustive_evaluations"] - step1["saved_evaluations"]
