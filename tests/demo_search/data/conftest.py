"""Shared helpers for the data loader tests: writing small data files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.paper_data import PAPER_DATA


@pytest.fixture
def write_jsonl(tmp_path: Path) -> Callable[..., Path]:
    """Write records (dicts are JSON-encoded, strings written as they are) one per line."""

    def write(records: list[object], name: str = "data.jsonl") -> Path:
        path = tmp_path / name
        lines = [record if isinstance(record, str) else json.dumps(record, ensure_ascii=False) for record in records]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write


@pytest.fixture
def paper_data() -> Path:
    """The paper's vendored data files (``data/icl-alignment``)."""
    return PAPER_DATA
