"""The search finds the right demonstrations: real Ray (this process's, see ``conftest.ray_address``), the bundled
tiny model, real generations, SQLite.

The quickstart task (``scripts/make_quickstart_data.py``) and planted tasks of the other rules: held-out prompts
follow one hidden rule; the pool mixes right-rule, wrong-rule and noisy demonstrations. With no demonstrations
the tiny model cannot know the rule; with right-rule ones it can. Every search runs the quickstart's settings
(greedy, exact match, stop once no candidate adds a point) with only the data, name and strategy changed.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from db import Store
from demo_search.config import load_config
from demo_search.search.session import run_search
from demo_search.synthetic import planted_task, write_task_files
from demo_search.types import Demonstration

REPO = Path(__file__).resolve().parents[3]
QUICKSTART = REPO / "examples" / "quickstart.yaml"
RANDOM_SEEDS = 3


def kinds_of(pool_file: Path) -> dict[str, str]:
    kinds = {}
    for line in pool_file.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        kinds[Demonstration.single(record["instruction"], record["output"]).id] = record["kind"]
    return kinds


def search(config_path: Path, db_url: str, *overrides: str):
    config = load_config(config_path, [f"database.url={db_url}", *overrides])
    outcome = run_search(config)
    with Store.open(db_url) as store:
        steps = store.steps(config.name)
    return outcome, steps


def assert_found_the_rule(steps, kinds: dict[str, str]) -> None:
    base, *searched = steps
    assert [kinds[s.item_id] for s in searched] == ["right"] * len(searched), [kinds[s.item_id] for s in searched]
    assert searched, "the search recorded no step after the base set"
    assert searched[-1].score >= 0.9
    assert base.score < searched[-1].score


def test_quickstart_greedy_picks_right_rule_demonstrations(tmp_path: Path, ray_address: str) -> None:
    outcome, steps = search(QUICKSTART, f"sqlite:///{tmp_path / 'q.db'}")
    assert_found_the_rule(steps, kinds_of(REPO / "examples" / "quickstart" / "pool.jsonl"))
    assert outcome.units_failed == 0


@pytest.mark.parametrize("rule", ["copy", "reverse", "shift", "double"])
def test_planted_task_greedy_finds_the_rule_beam_never_ends_below_it_and_random_sets_do_worse(
    tmp_path: Path, ray_address: str, rule: str
) -> None:
    # 8 right + 4 of each of the 4 other rules + 6 noisy = a pool of 30.
    pool, prompts = planted_task(rule, random.Random(1), right=8, wrong=4, noisy=6, heldout=12)
    pool_file, heldout_file = write_task_files(tmp_path / rule, pool, prompts)
    kinds = {demo.id: kind for demo, kind in pool}
    data = [f"data.pool.path={pool_file}", f"data.heldout.path={heldout_file}"]
    db = f"sqlite:///{tmp_path / 'planted.db'}"

    greedy, greedy_steps = search(QUICKSTART, db, *data, f"name={rule}-greedy")
    beam, _ = search(QUICKSTART, db, *data, f"name={rule}-beam", "strategy.kind=beam", "strategy.beam_width=3")
    # The random baseline is the mean over random sets (seeds): one lucky draw of mostly right items can match.
    baselines = [search(QUICKSTART, db, *data, f"name={rule}-random{seed}", "strategy.kind=random", f"seed={seed}")[0]
                 for seed in range(RANDOM_SEEDS)]

    assert_found_the_rule(greedy_steps, kinds)
    assert beam.best.score.mean >= greedy.best.score.mean
    random_mean = sum(b.best.score.mean for b in baselines) / RANDOM_SEEDS
    assert random_mean < greedy.best.score.mean, [b.best.score.mean for b in baselines]
    assert greedy.units_failed == beam.units_failed == sum(b.units_failed for b in baselines) == 0
