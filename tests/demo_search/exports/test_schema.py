"""The export document model and the shipped JSON Schema generated from it: the file is current, and the model and
``jsonschema`` (with the shipped file) accept and refuse the same documents.

Documents come from searches written straight into a store (``tests/demo_search/cli/stored.py``): no Ray.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from db import Store, TuningResult
from demo_search.exports import ExportDocument, ExportError, build_export
from demo_search.exports.model import ChatPromptSection
from demo_search.exports.schema import SCHEMA_FILE, main, render_schema
from demo_search.tuning.prompt import prompt_key
from demo_search.tuning.results import tuned_best_set
from demo_search.tuning.study import study_name
from tests.demo_search.cli.stored import write_stored_search
from tests.demo_search.templates.chatml import CHATML

pytestmark = pytest.mark.hand_written_searches  # stored.py writes its search row by row, not through the driver

REPO = Path(__file__).resolve().parents[3]


def shipped_validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_the_shipped_schema_is_what_the_model_generates() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render_schema(), (
        "demo_search/exports/schema.json is stale: run python -m demo_search.exports.schema"
    )
    assert SCHEMA_FILE == REPO / "demo_search" / "exports" / "schema.json"


def test_the_module_checks_and_regenerates_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check = subprocess.run([sys.executable, "-m", "demo_search.exports.schema", "--check"], cwd=REPO, capture_output=True)
    assert check.returncode == 0, check.stderr

    stale = tmp_path / "schema.json"
    stale.write_text(render_schema().replace('"minLength": 1', '"minLength": 2'), encoding="utf-8")
    assert main(["--check"], schema_file=stale) == 1
    assert "is not what the export model generates" in capsys.readouterr().err
    assert main([], schema_file=stale) == 0
    assert stale.read_text(encoding="utf-8") == render_schema()
    assert main(["--check"], schema_file=stale) == 0


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Exports of stored searches: URIAL before and after the fixed demonstrations, a chat template, and a tuned one."""
    root = tmp_path_factory.mktemp("stored")
    exported = {}
    for label, options in {
        "before_fixed": {"position": "before_fixed"},
        "after_fixed": {"position": "after_fixed"},
        "chat": {"template": "chat"},
        "chat_with_template": {"template": "chat", "chat_template": CHATML},
    }.items():
        search = write_stored_search(root / label, name=label, **options)
        with Store.open(search.url, create=False) as store:
            if label == "before_fixed":
                _store_tuning_result(store, label)
            exported[label] = build_export(store, label, tuned=tuned_best_set(store, label)).to_payload()
    return exported


def _store_tuning_result(store: Store, name: str) -> None:
    search = store.get_search(name)
    document = build_export(store, name)
    demo_ids = [d.id for d in document.demonstrations]
    params = {**document.decoding.searched.model_dump(), "temperature": 0.25, "seed": 7}
    store.record_tuning_result(name, TuningResult(
        study_name=study_name(name, prompt_key(search.rules, demo_ids)), demo_ids=tuple(demo_ids), params=params,
        score=0.875, stderr=0.01, baseline_score=0.5, n_trials=12, importances={"temperature": 0.75, "top_p": 0.25},
    ))


def test_exports_validate_against_the_shipped_schema_and_read_back(documents: dict[str, dict[str, Any]]) -> None:
    validator = shipped_validator()
    for label, document in documents.items():
        assert [e.message for e in validator.iter_errors(document)] == [], label
        assert ExportDocument.from_payload(document).to_payload() == document, label


def test_the_tuned_section_is_the_stored_result_of_this_prompt(documents: dict[str, dict[str, Any]]) -> None:
    tuned = documents["before_fixed"]["decoding"]["tuned"]
    assert tuned == {
        "params": {**documents["before_fixed"]["decoding"]["searched"], "temperature": 0.25, "seed": 7},
        "score": 0.875, "baseline_score": 0.5, "n_trials": 12, "importances": {"temperature": 0.75, "top_p": 0.25},
    }
    assert documents["after_fixed"]["decoding"]["tuned"] is None  # another search, never tuned


def searched_messages(document: dict[str, Any]) -> list[dict[str, str]]:
    """The rules as system message, then each turn of each demonstration (in prompt order) as user + assistant."""
    messages = [{"role": "system", "content": document["template"]["rules"]}]
    for demo in document["demonstrations"]:
        for turn in demo["turns"]:
            messages += [{"role": "user", "content": turn["query"]}, {"role": "assistant", "content": turn["answer"]}]
    return messages


def test_a_chat_export_holds_the_messages_it_searched(documents: dict[str, dict[str, Any]]) -> None:
    chat = documents["chat"]
    assert set(chat["prompt"]) == {"messages"}  # no URIAL text, no query template: the chat template renders them
    assert chat["prompt"]["messages"] == searched_messages(chat)
    assert len(chat["prompt"]["messages"]) == 1 + 2 * 3  # rules + two chosen demonstrations + the fixed one
    assert [d["role"] for d in chat["demonstrations"]] == ["selected", "selected", "fixed"]
    with_template = documents["chat_with_template"]["prompt"]
    assert with_template == {"messages": searched_messages(documents["chat_with_template"]), "chat_template": CHATML}
    read_back = ExportDocument.from_payload(chat).prompt
    assert isinstance(read_back, ChatPromptSection)
    assert [m.model_dump() for m in read_back.messages] == chat["prompt"]["messages"]


def test_a_urial_export_has_the_rendered_text_and_a_query_template(documents: dict[str, dict[str, Any]]) -> None:
    assert set(documents["before_fixed"]["prompt"]) == {"text", "query_template"}
    assert documents["before_fixed"]["prompt"]["query_template"].count("{query}") == 1


def test_key_order_is_the_documented_one(documents: dict[str, dict[str, Any]]) -> None:
    document = documents["before_fixed"]
    assert list(document) == ["format", "format_version", "search", "model", "template", "demonstrations",
                              "decoding", "trajectory", "prompt", "provenance"]
    assert list(document["trajectory"][1]) == ["step", "chosen", "score", "stderr", "n", "runner_up",
                                               "runner_up_score", "candidates", "skipped"]


def _drop(path: str) -> Callable[[dict], None]:
    *parents, last = path.split(".")

    def edit(document: dict) -> None:
        node = document
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        del node[int(last) if last.isdigit() else last]

    return edit


def _set(path: str, value: Any) -> Callable[[dict], None]:
    *parents, last = path.split(".")

    def edit(document: dict) -> None:
        node = document
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value

    return edit


BROKEN = {
    "unknown top-level key": _set("extra", 1),
    "unknown nested key": _set("search.colour", "red"),
    "wrong format": _set("format", "other"),
    "newer version": _set("format_version", 2),
    "no demonstrations key": _drop("demonstrations"),
    "demonstration without turns": _drop("demonstrations.0.turns"),
    "demonstration with no turn": _set("demonstrations.0.turns", []),
    "empty demonstration id": _set("demonstrations.0.id", ""),
    "unknown role": _set("demonstrations.0.role", "chosen"),
    "step 0 for a demonstration": _set("demonstrations.0.step", 0),
    "unknown engine": _set("model.engine", "llama.cpp"),
    "max_context 0": _set("model.max_context", 0),
    "top_p above 1": _set("decoding.searched.top_p", 1.5),
    "negative temperature": _set("decoding.searched.temperature", -0.1),
    "temperature as text": _set("decoding.searched.temperature", "0.5"),
    "top_k as a float": _set("decoding.searched.top_k", 0.5),
    "top_k as a boolean": _set("decoding.searched.top_k", True),
    "missing stop": _drop("decoding.searched.stop"),
    "tuned without score": _drop("decoding.tuned.score"),
    "negative n_trials": _set("decoding.tuned.n_trials", -1),
    "importance as text": _set("decoding.tuned.importances.top_p", "high"),
    "trajectory row without score": _drop("trajectory.0.score"),
    "negative step": _set("trajectory.0.step", -1),
    "prompt without text": _drop("prompt.text"),
    "null query template": _set("prompt.query_template", None),
    "missing exported_at": _drop("provenance.exported_at"),
}

OPTIONAL = {
    "no tuned section": _drop("decoding.tuned"),
    "no seed": _drop("decoding.searched.seed"),
    "no stop reason": _drop("search.stop_reason"),
    "no step": _drop("demonstrations.0.step"),
    "no source": _drop("demonstrations.0.source"),
    "no runner-up": _drop("trajectory.1.runner_up"),
    "no query template": _drop("prompt.query_template"),
    "no finished_at": _drop("provenance.finished_at"),
    "integer score": _set("trajectory.1.score", 1),
}


BROKEN_CHAT = {
    "message with an unknown role": _set("prompt.messages.0.role", "tool"),
    "message without content": _drop("prompt.messages.1.content"),
    "message content as a list": _set("prompt.messages.1.content", ["a"]),
    "messages and text": _set("prompt.text", "# Query:"),
    "no messages": _drop("prompt.messages"),
    "null chat template": _set("prompt.chat_template", None),
}

OPTIONAL_CHAT = {
    "a chat template": _set("prompt.chat_template", CHATML),
    "no message": _set("prompt.messages", []),
}


@pytest.mark.parametrize(
    ("label", "edit"),
    [*(("before_fixed", edit) for edit in (*BROKEN.values(), *OPTIONAL.values())),
     *(("chat", edit) for edit in (*BROKEN_CHAT.values(), *OPTIONAL_CHAT.values()))],
    ids=[*BROKEN, *OPTIONAL, *BROKEN_CHAT, *OPTIONAL_CHAT],
)
def test_the_model_and_the_shipped_schema_agree(
    documents: dict[str, dict[str, Any]], label: str, edit: Callable
) -> None:
    document = copy.deepcopy(documents[label])
    edit(document)
    schema_errors = [e.message for e in shipped_validator().iter_errors(document)]
    try:
        ExportDocument.from_payload(document)
        model_problems: list[str] = []
    except ExportError as error:
        model_problems = list(error.problems)
    assert bool(schema_errors) == bool(model_problems), (schema_errors, model_problems)
    expected_refused = edit in (*BROKEN.values(), *BROKEN_CHAT.values())
    assert bool(model_problems) == expected_refused, model_problems
