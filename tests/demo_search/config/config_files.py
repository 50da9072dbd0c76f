"""Helpers of the config tests: the smallest valid config text, writing a config, and reading its problems."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from demo_search.config import load_config
from demo_search.errors import ConfigError

BASE = """\
name: quick
model: {path: model}
data:
  pool: {path: pool.jsonl}
  heldout: {path: heldout.jsonl}
"""


def write(directory: Path, text: str, name: str = "search.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path, overrides=()) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, overrides)
    return caught.value.problems


def line_of(path: Path, needle: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if needle in line)
