"""``examples/paper.yaml`` with its model given by hub id: found in a Hugging Face cache, or refused up front.

The session runs offline with a Hugging Face home of its own (``tests/conftest.py``); ``hub_model`` puts a random
tiny Llama there by hub id, so these tests take the path a user takes with ``hf download``, without a hub.
"""

from __future__ import annotations

import json
import re

import pytest
from huggingface_hub import constants

import demo_search.search.cluster
from demo_search.templates.urial import parse_urial
from tests.support.harness import REPO, SearchDb, invoke, pairs_computed, run_cli, sqlite_url

PAPER = REPO / "examples" / "paper.yaml"
PAPER_DATA = REPO / "data" / "icl-alignment"
ABSENT = "mistralai/Mistral-7B-v0.1"
"""The paper's model, which the tests' Hugging Face cache never holds."""


def one_line(output: str) -> str:
    """The CLI's output with rich's line wrapping undone."""
    return " ".join(output.split())


def test_the_paper_example_validates_with_its_model_in_the_hugging_face_cache(hub_model) -> None:
    result = invoke("validate", str(PAPER), "--set", f"model.path={hub_model.repo_id}", "--set", "model.revision=main")

    assert result.exit_code == 0, result.output
    text = one_line(result.output)
    assert "3 pool item(s) are fixed demonstrations" in text
    assert "context window: 8192 tokens (model.max_context)" in text
    assert "ok: configuration and data are valid" in text


def test_validate_projects_the_paper_examples_judge_calls_and_cost(hub_model) -> None:
    # The test model's tokenizer spends many more tokens on this text than Mistral's, so the context window is
    # widened so that every candidate fits, as all of them do with the paper's model.
    result = invoke("validate", str(PAPER), "--set", f"model.path={hub_model.repo_id}",
                    "--set", "model.max_context=16383")

    assert result.exit_code == 0, result.output
    # The base set and three greedy steps over the 47 searched candidates, 80 questions each (1 + 47 + 46 + 45
    # sets), one judge call per answer, priced at the example's judge price.
    cells = r"\s*│\s*".join([r"total", "139", "11,120", *[r"([\d,.]+)"] * 3, "11,120", *[r"([\d,.]+)"] * 3])
    total = re.search(cells, result.output)
    assert total is not None, result.output
    _, _, generated, judge_in, judge_out, usd = (float(value.replace(",", "")) for value in total.groups())
    assert generated == 11_120 * 1024 and judge_out == 11_120 * 2048
    assert judge_in > 11_120 * 1024  # every judged answer counted at its 1,024-token bound, plus the questions
    assert usd == pytest.approx((judge_in * 10.0 + judge_out * 30.0) / 1e6, abs=0.01)


@pytest.mark.parametrize(("revision", "named", "fetch"), [
    (None, ABSENT, f"`hf download {ABSENT}`"),
    ("v9", f"{ABSENT} (revision v9)", f"`hf download {ABSENT} --revision v9`"),
])
def test_the_paper_example_without_its_model_fails_in_validate_naming_id_cache_and_fetch(revision, named,
                                                                                           fetch) -> None:
    overrides = [] if revision is None else ["--set", f"model.revision={revision}"]
    result = invoke("validate", str(PAPER), *overrides)

    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    text = one_line(result.output)
    assert (f"error: model {named}: tokenizer not found in the Hugging Face cache {constants.HF_HUB_CACHE} "
            "(offline: HF_HUB_OFFLINE=1); fetch it with " + fetch) in text
    assert "or set model.path to a local model directory" in text
    assert "ok:" not in text


def test_run_without_its_model_fails_before_ray_starts(tmp_path, monkeypatch) -> None:
    def no_ray(options):
        raise AssertionError("Ray was started although the model is missing")

    monkeypatch.setattr(demo_search.search.cluster, "init_ray", no_ray)
    db = tmp_path / "searches.db"

    result = invoke("run", str(PAPER), "--db", sqlite_url(db))

    assert result.exit_code == 1, result.output
    assert f"error: model {ABSENT}: tokenizer not found in the Hugging Face cache" in one_line(result.output)
    assert not db.exists(), "nothing may be stored for a search whose model is missing"


def test_the_paper_example_runs_a_step_on_a_cached_hub_model(tmp_path, hub_model) -> None:
    # The paper's set-up with a random tiny model of the cache, on the transformers engine, over a slice of the
    # paper's data: the two shortest searched candidates and two MT-Bench questions with references (scored by
    # match, since the paper's judge is a remote API).
    urial = parse_urial((PAPER_DATA / "urial.greedy.50.txt").read_text(encoding="utf-8"))
    fixed = {demo.query for demo in parse_urial((PAPER_DATA / "urial.txt").read_text(encoding="utf-8")).demonstrations}
    shortest = sorted((d for d in urial.demonstrations if d.query not in fixed), key=lambda d: len(d.query + d.answer))
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps({"prompt": d.query, "response": d.answer}) + "\n" for d in shortest[:2]),
                    encoding="utf-8")
    questions = [json.loads(line) for line in (PAPER_DATA / "mt_bench_question.jsonl").read_text().splitlines()]
    heldout = tmp_path / "heldout.jsonl"
    heldout.write_text("".join(json.dumps(q) + "\n" for q in [q for q in questions if q.get("reference")][:2]),
                       encoding="utf-8")
    db = tmp_path / "searches.db"
    overrides = {
        "model.path": hub_model.repo_id, "model.engine": "transformers",
        "data.pool.path": str(pool), "data.pool.format": "prompt_response", "data.heldout.path": str(heldout),
        "strategy.max_steps": "1", "scorer.kind": "match", "decoding.max_tokens": "4",
        "workers.count": "1", "workers.gpus_per_worker": "0", "workers.cpus_per_worker": "1",
    }
    args = ["run", str(PAPER), "--db", sqlite_url(db),
            *(arg for key, value in overrides.items() for arg in ("--set", f"{key}={value}"))]

    run = run_cli(args, cwd=tmp_path)

    assert run.returncode == 0, run.describe()
    sets = 1 + 2  # URIAL's base set, then each candidate added to it
    assert pairs_computed(run) == sets * 2
    search = SearchDb(db, "paper-mistral-7b")
    assert search.status() == "finished"
    assert [row[0] for row in search.trajectory()] == [0, 1]
    assert search.evaluation_count() == sets * 2
