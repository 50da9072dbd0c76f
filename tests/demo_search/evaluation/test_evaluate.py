"""``demo-search evaluate`` and the test split on the bundled tiny model (real Ray actors, loglik scoring).

One search with ``data.test`` is run for the module through the CLI in this process: to step 1 (exported), then
continued to step 2 (exported again). Its test scores are stored per step and shown by ``status`` and the export;
then ``evaluate`` scores the two exports and the base prompt on the search's held-out file, and its per-prompt
scores must be the very scores the search stored for the same sets on the same prompts (the same pipeline), its
means and paired differences what a direct computation gives, and its ``--json`` valid against its schema.
"""

from __future__ import annotations

import json
import math
import random
import statistics
from dataclasses import dataclass
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from db import Store
from demo_search.evaluation.report import EvaluationReport, report_json_schema
from demo_search.evaluation.statistics import t_critical
from demo_search.synthetic import make_heldout
from tests.support import harness
from tests.support.harness import SearchData

pytestmark = pytest.mark.slow

NAME = "evaluated"


@dataclass(frozen=True)
class Searched:
    files: SearchData
    config: Path
    test_file: Path
    db_url: str
    first: Path  # the export after step 1
    final: Path  # the export after step 2
    status: str


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Searched:
    harness.ray_address()
    model = harness.random_model_dir(tmp_path_factory.getbasetemp())
    root = tmp_path_factory.mktemp("evaluate")
    files = harness.write_search_data(root / "data", model, prompts=4)
    test_file = root / "data" / "test.jsonl"
    taken = frozenset(d.query for d in files.pool_items) | {p.query for p in files.prompts}
    test_prompts = make_heldout("upper", 3, random.Random(7), exclude=taken)
    test_file.write_text("".join(json.dumps({"prompt": p.query, "reference": p.reference}) + "\n"
                                 for p in test_prompts), encoding="utf-8")
    db = root / "evaluate.db"
    config = harness.write_config(
        root / "search.yaml", files, name=NAME, db=db, data={"test": {"path": str(test_file)}},
        strategy={"max_steps": 1},
    )
    first, final = root / "step1.json", root / "final.json"
    for steps, output in ((1, first), (2, final)):
        result = harness.invoke("run", str(config), "--set", f"strategy.max_steps={steps}", "-o", str(output))
        assert result.exit_code == 0, result.output
    status = harness.invoke("status", NAME, "--db", harness.sqlite_url(db))
    assert status.exit_code == 0, status.output
    return Searched(files, config, test_file, harness.sqlite_url(db), first, final, status.output)


def test_each_step_has_a_test_score_shown_beside_validation_in_status_and_the_export(searched: Searched) -> None:
    with Store.open(searched.db_url, read_only=True) as store:
        steps = store.steps(NAME)
        assert [s.step_index for s in steps] == [0, 1, 2]
        test_ids = [item.item_id for item in store.test_prompts(NAME)]
        assert len(test_ids) == 3
        stored = {s.step_index: [e.score for e in store.test_evaluations_for(NAME, s.set_key)] for s in steps}
        for step in steps:  # selection never saw a test prompt
            assert not {e.prompt_id for e in store.evaluations_for(NAME, step.set_key)} & set(test_ids)
    trajectory = _json(searched.final)["trajectory"]
    rows = harness.status_rows(searched.status)
    for row, shown in zip(trajectory, rows, strict=True):
        scores = stored[row["step"]]
        assert len(scores) == 3 and None not in scores
        assert row["test"]["n"] == 3
        assert row["test"]["score"] == pytest.approx(statistics.fmean(scores), abs=1e-12)
        assert row["test"]["stderr"] == pytest.approx(statistics.stdev(scores) / math.sqrt(3), abs=1e-12)
        assert shown[4:6] == [f"{row['test']['score']:.4f} ± {row['test']['stderr']:.4f}", "3"]
        assert shown[2] == f"{row['score']:.4f} ± {row['stderr']:.4f}"
    assert "test" in _json(searched.first)["trajectory"][1]  # the export after step 1 has it too


def test_evaluate_scores_two_exports_and_the_base_prompt_with_paired_differences(searched: Searched) -> None:
    prompts = [str(searched.first), str(searched.final), "base"]
    result = harness.invoke("evaluate", *prompts, "--on", str(searched.files.heldout), "--config",
                            str(searched.config), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    Draft202012Validator(report_json_schema()).validate(payload)
    report = EvaluationReport.model_validate(payload)
    assert [r.label for r in report.results] == prompts
    assert [r.kind for r in report.results] == ["export", "export", "base"]

    # the same sets on the same prompts as the search: the very scores it stored
    with Store.open(searched.db_url, read_only=True) as store:
        steps = store.steps(NAME)
        prompt_ids = [item.item_id for item in store.heldout_prompts(NAME)]
        stored = {s.step_index: {e.prompt_id: e.score for e in store.evaluations_for(NAME, s.set_key)} for s in steps}
    assert report.prompt_ids == prompt_ids
    for label, step in ((prompts[0], 1), (prompts[1], 2), ("base", 0)):
        scores = report.result(label).scores
        assert scores == pytest.approx([stored[step][i] for i in prompt_ids], abs=1e-4)
        assert report.result(label).mean == pytest.approx(statistics.fmean(scores), abs=1e-12)
        se = statistics.stdev(scores) / math.sqrt(len(scores))
        assert report.result(label).stderr == pytest.approx(se, abs=1e-12)
        assert report.result(label).n == len(prompt_ids)

    # paired differences: every later argument minus every earlier one, with paired-t 95% intervals
    expected_pairs = [(prompts[0], prompts[1]), (prompts[0], "base"), (prompts[1], "base")]
    assert [(d.first, d.second) for d in report.differences] == expected_pairs
    t = 3.182446305284263  # t(0.975, 3 degrees of freedom), from tables
    assert t_critical(3) == pytest.approx(t, abs=1e-9)
    for row in report.differences:
        diffs = [b - a for a, b in zip(report.result(row.first).scores, report.result(row.second).scores, strict=True)]
        se = statistics.stdev(diffs) / math.sqrt(len(diffs))
        assert row.n == 4
        assert row.mean == pytest.approx(statistics.fmean(diffs), abs=1e-12)
        assert row.stderr == pytest.approx(se, abs=1e-12)
        assert (row.ci_low, row.ci_high) == pytest.approx((row.mean - t * se, row.mean + t * se), abs=1e-9)

    table = harness.invoke("evaluate", *prompts, "--on", str(searched.files.heldout), "--config", str(searched.config))
    assert table.exit_code == 0, table.output
    for score in report.results:
        assert f"{score.mean:.4f} ± {score.stderr:.4f}" in table.stdout
    for row in report.differences:
        assert f"{row.second} − {row.first}" in table.stdout
        assert f"[{row.ci_low:+.4f}, {row.ci_high:+.4f}]" in table.stdout


def test_evaluate_on_the_test_file_gives_the_stored_test_scores(searched: Searched) -> None:
    result = harness.invoke("evaluate", str(searched.final), "--on", str(searched.test_file), "--config",
                            str(searched.config), "--json")
    assert result.exit_code == 0, result.output
    report = EvaluationReport.model_validate_json(result.stdout)
    assert report.differences == []
    test = _json(searched.final)["trajectory"][-1]["test"]
    assert report.results[0].mean == pytest.approx(test["score"], abs=1e-4)
