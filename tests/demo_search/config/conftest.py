"""Fixtures of the config tests: no database URL from the environment, and a workspace with data and a model."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo_search.config import DB_ENV


@pytest.fixture(autouse=True)
def _no_db_env(monkeypatch):
    monkeypatch.delenv(DB_ENV, raising=False)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "pool.jsonl").write_text('{"instruction": "a", "output": "b"}\n', encoding="utf-8")
    (tmp_path / "heldout.jsonl").write_text('{"prompt": "q", "reference": "r"}\n', encoding="utf-8")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "llama"}', encoding="utf-8")
    (model / "model.safetensors").write_bytes(b"\x00" * 64)
    return tmp_path
