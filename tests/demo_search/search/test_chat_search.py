"""A chat-template search end to end: real Ray (this process's), the transformers engine on
``tests.support.chat_model``'s scripted model, exact match, SQLite; then its export.

The tokenizer has no chat template: the config gives ChatML as ``template.chat_template``. Greedy answers are
``OK!`` followed by ``<|im_end|>`` (not the model's EOS) and then more turns; every held-out reference is ``OK!``,
so a set scores 1 only when generation stops at the end-of-turn token and 0 when it runs on to ``max_tokens``.
"""

from __future__ import annotations

import json

import pytest
import yaml

from db import Store
from demo_search.config import load_config
from demo_search.exports import ExportDocument, build_export
from demo_search.exports.model import ChatPromptSection
from demo_search.search.session import run_search
from tests.support.chat_model import CHATML, REPLY, build_chat_model_dir

pytestmark = pytest.mark.slow

MAX_TOKENS = 16
RULES = "Answer with OK!"
POOL = [{"prompt": "Ready?", "response": "Yes."}, {"prompt": "Go on", "response": "Done."}]
HELDOUT = [{"prompt": f"Say it {i}", "reference": REPLY} for i in range(3)]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, ray_address: str) -> tuple[str, str]:
    """(name, database URL) of a one-step greedy chat search over ``POOL``."""
    root = tmp_path_factory.mktemp("chat-search")
    model = build_chat_model_dir(root / "chat-model")
    (root / "pool.jsonl").write_text("".join(json.dumps(r) + "\n" for r in POOL), encoding="utf-8")
    (root / "heldout.jsonl").write_text("".join(json.dumps(r) + "\n" for r in HELDOUT), encoding="utf-8")
    (root / "rules.txt").write_text(RULES, encoding="utf-8")
    (root / "chatml.jinja").write_text(CHATML, encoding="utf-8")
    url = f"sqlite:///{root / 'chat.db'}"
    document = {
        "name": "chat-search",
        "model": {"path": "chat-model", "batch_size": 4},
        "template": {"kind": "chat", "chat_template": "chatml.jinja", "rules_file": "rules.txt"},
        "data": {"pool": {"path": "pool.jsonl"}, "heldout": {"path": "heldout.jsonl"}},
        "strategy": {"max_steps": 1, "min_delta": -1.0},
        "scorer": {"kind": "match"},
        "decoding": {"max_tokens": MAX_TOKENS},
        "workers": {"count": 1, "cpus_per_worker": 1.0},
        "database": {"url": url},
    }
    (root / "search.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    outcome = run_search(load_config(root / "search.yaml"))
    assert outcome.units_failed == 0
    return "chat-search", url


def test_every_answer_stops_at_the_end_of_turn(finished: tuple[str, str]) -> None:
    name, url = finished
    with Store.open(url) as store:
        steps = store.steps(name)
        candidates = [c for step in steps for c in store.candidates_of_step(name, step.step_index)]
        evaluations = [e for c in candidates for e in store.evaluations_for(name, c.set_key)]
    assert [s.step_index for s in steps] == [0, 1]
    assert len(candidates) == 1 + len(POOL)
    assert len(evaluations) == len(candidates) * len(HELDOUT)
    assert {e.output for e in evaluations} == {REPLY}  # not "OK!\nOK!\n..." up to max_tokens
    assert {e.score for e in evaluations} == {1.0}
    assert [s.score for s in steps] == [1.0, 1.0]


def test_the_export_holds_the_searched_chat_messages(finished: tuple[str, str]) -> None:
    name, url = finished
    with Store.open(url) as store:
        document = build_export(store, name)
    (chosen,) = [d for d in document.demonstrations if d.role == "selected"]
    (turn,) = chosen.turns
    assert isinstance(document.prompt, ChatPromptSection)
    assert [m.model_dump() for m in document.prompt.messages] == [
        {"role": "system", "content": RULES},
        {"role": "user", "content": turn.query},
        {"role": "assistant", "content": turn.answer},
    ]
    assert document.prompt.chat_template == CHATML
    payload = json.loads(document.to_json())
    assert "text" not in payload["prompt"] and "query_template" not in payload["prompt"]
    assert ExportDocument.from_payload(payload) == document
