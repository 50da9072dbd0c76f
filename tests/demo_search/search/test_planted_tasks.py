"""The search finds the right demonstrations: real Ray (this process's, see ``conftest.ray_address``), the bundled
tiny model, real generations, SQLite.

The quickstart task (``scripts/make_quickstart_data.py``): held-out prompts follow one hidden rule; the pool
mixes right-rule, wrong-rule and noisy demonstrations. With no demonstrations the tiny model cannot know the
rule; with right-rule ones it can.
"""

from __future__ import annotations

import json
from pathlib import Path

from db import Store
from demo_search.config import load_config
from demo_search.search.session import run_search
from demo_search.types import Demonstration

REPO = Path(__file__).resolve().parents[3]
QUICKSTART = REPO / "examples" / "quickstart.yaml"


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
