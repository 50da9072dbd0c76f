"""`demo-search validate` with a chat template: the template must render a conversation with the model's tokenizer
(the bundled tiny model's byte tokenizer has no chat template of its own, so ``template.chat_template`` gives one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from demo_search.cli import app
from tests.demo_search.templates.chatml import CHATML


@pytest.fixture()
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEMO_SEARCH_DB", raising=False)
    (tmp_path / "pool.jsonl").write_text(json.dumps({"instruction": "q", "output": "a"}) + "\n", encoding="utf-8")
    (tmp_path / "held.jsonl").write_text(json.dumps({"prompt": "x", "reference": "y"}) + "\n", encoding="utf-8")
    return tmp_path


def validate(root: Path, template: dict) -> tuple[int, str]:
    path = root / "search.yaml"
    path.write_text(yaml.safe_dump({
        "name": "t",
        "model": {"path": "tiny"},
        "template": {"kind": "chat", **template},
        "data": {"pool": {"path": "pool.jsonl"}, "heldout": {"path": "held.jsonl"}},
        "scorer": {"kind": "match"},
    }), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_a_chat_template_that_renders_passes(workspace: Path) -> None:
    code, out = validate(workspace, {"chat_template": CHATML})
    assert code == 0, out
    assert "ok: configuration and data are valid" in out


def test_a_chat_template_that_fails_to_render_is_reported_without_a_traceback(workspace: Path) -> None:
    code, out = validate(workspace, {"chat_template": "{{ raise_exception('this template needs a tool message') }}"})
    assert code == 1, out
    assert "the chat template failed to render a conversation" in out
    assert "this template needs a tool message" in out and "Traceback" not in out


def test_a_tokenizer_without_a_chat_template_points_to_the_key(workspace: Path) -> None:
    code, out = validate(workspace, {})
    assert code == 1, out
    assert "has no chat_template; give one (template.chat_template)" in out
