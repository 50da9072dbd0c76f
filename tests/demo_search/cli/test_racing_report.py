"""``status`` and ``export`` show what racing saved; a search that did not race shows exactly what it showed before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from db import Candidate, CandidateStatus, Step, Store
from demo_search.cli import app
from tests.demo_search.cli.stored import write_stored_search

pytestmark = pytest.mark.hand_written_searches
RACING = {"delta": 0.05, "first_prompts": 8, "round_prompts": 8, "score_range": [0.0, 1.0], "order": [],
          "rounds": 3, "candidates": 4, "survivors": 2, "evaluations": 40, "exhaustive_evaluations": 96,
          "saved_evaluations": 56, "eliminated": [{"set_key": "1-c"}, {"set_key": "1-d"}]}


def raced_search(root: Path) -> tuple[str, str]:
    """The stored two-step search, and a copy of its configuration whose step 1 raced four candidates."""
    stored = write_stored_search(root)
    with Store.open(stored.url) as store:
        search = store.get_search(stored.name)
        pool = [item.item_id for item in store.pool_items(stored.name)]
        store.create_search("raced", config=search.config, fingerprint=search.fingerprint,
                            fingerprint_parts=search.fingerprint_parts, rules=search.rules,
                            fixed_demos=list(search.fixed_demos), pool_items=store.pool_items(stored.name),
                            heldout_prompts=store.heldout_prompts(stored.name))
        base = Candidate(0, "0-base", (), None, CandidateStatus.SCORED, score=0.25, stderr=0.1, n_scored=24)
        store.record_candidate("raced", base)
        store.record_step("raced", Step(0, "0-base", None, 0.25, 0.1))
        for key, item, status in zip("abcd", pool, [CandidateStatus.SCORED] * 2 + [CandidateStatus.ELIMINATED] * 2):
            scored = status is CandidateStatus.SCORED
            store.record_candidate("raced", Candidate(
                1, f"1-{key}", (item,), item, status, score=0.5 if scored else None, n_scored=24 if scored else 8,
                reason=None if scored else "eliminated by racing in round 1",
            ))
        store.record_step("raced", Step(1, "1-a", pool[0], 0.5, 0.1, "1-b", pool[1], 0.5, racing=RACING))
    return stored.url, stored.name


def test_status_and_export_show_the_evaluations_racing_saved(tmp_path: Path) -> None:
    url, plain = raced_search(tmp_path)
    runner = CliRunner()
    shown = runner.invoke(app, ["status", "raced", "--db", url], env={"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.output
    assert "4 (2 eliminated)" in shown.output
    assert "racing: 1 step(s) raced; 40 evaluations instead of 96 (56 saved, 2.4x fewer)" in shown.output
    assert "racing:" not in runner.invoke(app, ["status", plain, "--db", url], env={"COLUMNS": "250"}).output
    as_json = runner.invoke(app, ["status", "raced", "--db", url, "--json"])
    assert as_json.exit_code == 0, as_json.output
    step1 = json.loads(as_json.stdout)["steps"][1]
    assert step1["eliminated"] == 2 and [c["status"] for c in step1["candidates"]].count("eliminated") == 2
    assert step1["racing"] == {"evaluations": 40, "exhaustive_evaluations": 96, "saved_evaluations": 56}

    for name in ("raced", plain):
        result = runner.invoke(app, ["export", name, "--db", url, "-o", str(tmp_path / f"{name}.json")])
        assert result.exit_code == 0, result.output
    raced = json.loads((tmp_path / "raced.json").read_text())["trajectory"]
    assert "racing" not in raced[0]
    assert raced[1]["racing"] == {"eliminated": 2, "evaluations": 40, "exhaustive_evaluations": 96,
                                  "saved_evaluations": 56}
    assert all("racing" not in row for row in json.loads((tmp_path / f"{plain}.json").read_text())["trajectory"])
