"""The docker-compose.yml header points at documentation that exists: every Markdown file it names, and the README
section it quotes by title."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def header() -> str:
    lines = (REPO / "docker-compose.yml").read_text(encoding="utf-8").splitlines()
    first_setting = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    return "\n".join(lines[:first_setting])


def test_the_compose_header_names_files_and_sections_that_exist() -> None:
    text = header()
    files = re.findall(r"[\w./-]+\.md\b", text)
    assert files, text
    assert [f for f in files if not (REPO / f).is_file()] == []
    headings = set(re.findall(r"^#{2,} (.+)$", (REPO / "README.md").read_text(encoding="utf-8"), re.MULTILINE))
    sections = re.findall(r'README\.md, "([^"]+)"', text)
    assert sections and [s for s in sections if s not in headings] == []
