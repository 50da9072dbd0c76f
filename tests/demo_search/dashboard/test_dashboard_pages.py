"""The dashboard's pages and JSON on a search written straight into a store (no model, no Ray, no browser).

The search is ``tests/demo_search/cli/stored.py``'s: a real stored configuration, rules and a fixed
demonstration, three steps, one candidate skipped; evaluations with answers and judge replies and a tuning
result are added here by hand (so the searches are marked ``hand_written_searches``: the driver's invariants do not
hold for them). Pages are fetched through Starlette's test client.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from db import Evaluation, Store, StoredItem, TuningResult
from demo_search.dashboard.app import create_app
from demo_search.dashboard.source import StoreSource
from demo_search.templates import UrialTemplate
from demo_search.types import HeldOutPrompt
from tests.demo_search.cli.stored import RULES, STOP_REASON, StoredSearch, write_stored_search

pytestmark = pytest.mark.hand_written_searches

ANSWER = "answer <b>bold</b> & more\n  indented"
JUDGE_REPLY = "The answer is fine.\nRating: [[7]]"


@pytest.fixture
def stored(tmp_path: Path) -> StoredSearch:
    search = write_stored_search(tmp_path / "stored")
    with Store.open(search.url) as store:
        chosen = store.steps(search.name)[-1].set_key
        prompts = store.heldout_prompts(search.name)
        store.record_evaluations(search.name, [
            Evaluation(chosen, prompts[0].item_id, 7.0, output=ANSWER,
                       detail={"judge_reply": JUDGE_REPLY, "rating": 7.0, "template": "single-v1"},
                       prompt_tokens=100, computed_tokens=40, cached_tokens=60),
            Evaluation(chosen, prompts[1].item_id, None, output="?", error="unparsable judgement: no rating",
                       prompt_tokens=90, computed_tokens=90),
        ])
        store.record_tuning_result(search.name, TuningResult(
            "stored-tuning", demo_ids=(search.chosen[0],), params={"temperature": 0.5}, score=0.9, n_trials=4,
            stderr=0.1, baseline_score=0.8,
        ))
    return search


@pytest.fixture
def client(stored: StoredSearch) -> Iterator[TestClient]:
    source = StoreSource(stored.url)
    try:
        yield TestClient(create_app(source))
    finally:
        source.close()


def element_text(page: str, element_id: str) -> str:
    """The text of the element with ``element_id`` as a browser reads it (one leading newline of a ``<pre>``
    dropped, entities decoded)."""
    found = re.search(rf'<(\w+) id="{element_id}"[^>]*>(.*?)</\1>', page, re.S)
    assert found, f"no element {element_id!r} in the page"
    text = found.group(2)
    if found.group(1) == "pre":
        text = text.removeprefix("\n")
    return html.unescape(text)


def test_the_search_json_holds_the_stores_trajectory_candidates_and_tokens(
    client: TestClient, stored: StoredSearch
) -> None:
    response = client.get("/api/search", params={"name": stored.name})
    assert response.status_code == 200
    data = response.json()
    with Store.open(stored.url, read_only=True) as store:
        steps = store.steps(stored.name)
        candidates = store.all_candidates(stored.name)

    assert data["listing"]["status"] == "finished" and data["listing"]["stop_reason"] == STOP_REASON
    assert data["listing"]["steps_done"] == 3 and data["listing"]["progress"] == 1.0
    chosen, runner_up = data["figures"]["trajectory"]["data"]
    assert chosen["name"] == "chosen" and chosen["x"] == [0, 1, 2]
    assert chosen["y"] == [s.score for s in steps] == [0.25, 0.75, 1.0]
    assert chosen["error_y"]["array"] == [0.125, 0.125, 0.125]
    assert chosen["customdata"] == [None, 0.25, 0.25]  # the margin over the runner-up
    assert runner_up["x"] == [1, 2] and runner_up["y"] == [0.5, 0.75]
    everyone, marked = data["figures"]["distribution"]["data"]
    scored = [c for c in candidates if c.score is not None]
    assert sorted(zip(everyone["x"], everyone["y"])) == sorted((c.step_index, c.score) for c in scored)
    assert list(zip(marked["x"], marked["y"])) == [(0, 0.25), (1, 0.75), (2, 1.0)]
    computed, cached = data["figures"]["tokens"]["data"]
    assert (computed["x"], computed["y"], cached["y"]) == ([0, 1, 2], [0, 0, 130], [0, 0, 60])


def test_the_search_page_lists_failures_skips_and_tuning_results(client: TestClient, stored: StoredSearch) -> None:
    page = client.get("/search", params={"name": stored.name}).text

    problems = element_text(page, "problems")
    assert "skipped" in problems and "longer than the context" in problems
    assert "1 / 2" in problems  # the chosen set of step 2: one of its two evaluations failed
    tuning = element_text(page, "tuning")
    assert "stored-tuning" in tuning and "0.9000" in tuning and '"temperature": 0.5' in tuning
    assert 'src="/static/plotly.min.js"' in page and "cdn" not in page.lower()


def test_a_pair_page_shows_the_rendered_prompt_the_answer_the_reference_and_the_judges_reply(
    client: TestClient, stored: StoredSearch
) -> None:
    with Store.open(stored.url, read_only=True) as store:
        chosen = store.steps(stored.name)[-1]
        prompt = HeldOutPrompt.from_payload(store.heldout_prompts(stored.name)[0].payload)
    selected = [next(d for d in stored.pool if d.id == demo_id) for demo_id in stored.chosen]

    page = client.get("/pair", params={"name": stored.name, "set": chosen.set_key, "prompt": prompt.id}).text

    # before_fixed: the set's demonstrations in the order the steps added them, then the fixed one
    assert element_text(page, "prompt") == UrialTemplate().render_prompt(RULES, [*selected, *stored.fixed], prompt)
    assert element_text(page, "answer") == ANSWER and "<b>bold</b>" not in page  # escaped
    assert element_text(page, "reference") == prompt.reference
    assert element_text(page, "judge-reply") == JUDGE_REPLY
    assert element_text(page, "rating") == "7.0" and element_text(page, "score") == "7.0000"


def test_a_pair_not_evaluated_yet_and_a_failed_one_say_so(client: TestClient, stored: StoredSearch) -> None:
    with Store.open(stored.url, read_only=True) as store:
        chosen = store.steps(stored.name)[-1].set_key
        prompts = [item.item_id for item in store.heldout_prompts(stored.name)]

    failed = client.get("/pair", params={"name": stored.name, "set": chosen, "prompt": prompts[1]}).text
    missing = client.get("/pair", params={"name": stored.name, "set": chosen, "prompt": prompts[2]}).text

    assert element_text(failed, "error") == "unparsable judgement: no rating"
    assert "has not been evaluated yet" in missing and 'id="answer"' not in missing


def test_a_chat_template_search_shows_its_messages(tmp_path: Path) -> None:
    stored = write_stored_search(tmp_path / "chat", template="chat", position="after_fixed")
    source = StoreSource(stored.url)
    try:
        with Store.open(stored.url, read_only=True) as store:
            chosen = store.steps(stored.name)[-1].set_key
            prompt = store.heldout_prompts(stored.name)[0]
        page = TestClient(create_app(source)).get(
            "/pair", params={"name": stored.name, "set": chosen, "prompt": prompt.item_id}
        ).text
    finally:
        source.close()
    selected = [next(d for d in stored.pool if d.id == demo_id) for demo_id in stored.chosen]
    turns = [*stored.fixed, *selected]  # after_fixed: the fixed demonstration first
    expected = [f"[system]\n{RULES}"]
    for demo in turns:
        expected += [f"[user]\n{demo.query}", f"[assistant]\n{demo.answer}"]
    expected.append(f"[user]\n{prompt.payload['query']}")
    assert element_text(page, "prompt") == "\n\n".join(expected)


def test_the_list_of_searches_and_the_pages_of_unknown_things(client: TestClient, stored: StoredSearch) -> None:
    listing = client.get("/api/searches").json()
    rows = [(s["name"], s["status"], s["steps_done"], s["max_steps"]) for s in listing]
    assert rows == [(stored.name, "finished", 3, 2)]
    assert f'data-name="{stored.name}"' in client.get("/").text

    unknown = client.get("/search", params={"name": "stord"})
    assert unknown.status_code == 404 and "did you mean &#39;stored&#39;" in unknown.text
    assert client.get("/candidate", params={"name": stored.name, "set": "nope"}).status_code == 404
    assert client.get("/pair", params={"name": stored.name, "set": "nope", "prompt": "x"}).status_code == 404
    assert client.get("/search").status_code == 400
    assert client.get("/static/plotly.min.js").text.startswith("/**")


def test_the_candidate_page_lists_every_prompt_with_its_evaluation(client: TestClient, stored: StoredSearch) -> None:
    with Store.open(stored.url, read_only=True) as store:
        chosen = store.steps(stored.name)[-1].set_key
    page = client.get("/candidate", params={"name": stored.name, "set": chosen}).text

    prompts = element_text(page, "prompts")
    assert prompts.count("/pair?") == 3 and "not evaluated" in prompts and "unparsable judgement" in prompts
    assert element_text(page, "demonstrations").count("<li>") == 2


def test_the_dashboard_writes_nothing_and_sees_a_search_created_after_it_opened(tmp_path: Path) -> None:
    stored = write_stored_search(tmp_path / "watch")
    digest = hashlib.sha256(stored.db.read_bytes()).hexdigest()
    source = StoreSource(stored.url)
    try:
        client = TestClient(create_app(source))
        for path in ("/", "/api/searches", f"/search?name={stored.name}", f"/api/search?name={stored.name}"):
            assert client.get(path).status_code == 200
        assert hashlib.sha256(stored.db.read_bytes()).hexdigest() == digest
        assert not stored.db.with_name(stored.db.name + "-wal").exists()

        with Store.open(stored.url) as writer:  # a search starts while the dashboard is open
            writer.create_search("later", config={}, fingerprint="f", fingerprint_parts={},
                                 heldout_prompts=[StoredItem("p", 0, {"id": "p", "query": "q"})])
            assert [s["name"] for s in client.get("/api/searches").json()] == [stored.name, "later"]
        assert [s["name"] for s in client.get("/api/searches").json()] == [stored.name, "later"]
    finally:
        source.close()


def test_a_search_with_a_test_split_draws_its_test_scores_beside_the_trajectory(
    client: TestClient, stored: StoredSearch
) -> None:
    with Store.open(stored.url) as store:
        steps = store.steps(stored.name)
        store.record_test_prompts(stored.name, [
            StoredItem(f"test-{i}", i, {"query": f"test question {i}", "reference": "r"}) for i in range(2)
        ])
        for step, scores in zip(steps[1:], ((0.5, 0.0), (1.0, 0.5)), strict=True):
            store.record_test_evaluations(stored.name, [
                Evaluation(step.set_key, f"test-{i}", score) for i, score in enumerate(scores)
            ])

    data = client.get("/api/search", params={"name": stored.name}).json()

    test = next(trace for trace in data["figures"]["trajectory"]["data"] if trace["name"] == "test")
    assert test["x"] == [1, 2] and test["y"] == [0.25, 0.75]  # step 0 was not scored on the test prompts
    assert test["error_y"]["array"] == [0.25, 0.25]
