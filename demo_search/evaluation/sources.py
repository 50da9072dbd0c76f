"""What ``demo-search evaluate`` compares: prompts given as exports, URIAL prompt files or the base prompt, each
turned into its rules and demonstrations in prompt order.

* an export (the JSON ``demo-search export`` writes, recognised by a ``.json`` name or a leading ``{``): its
  template's rules and every demonstration, selected and fixed, in prompt order;
* a URIAL prompt file (any other file): its rules preamble and its demonstrations;
* ``base`` (:data:`BASE`): the rules and fixed demonstrations of the configuration, what a search starts from.

Every source is laid out with the configuration's template; a file that cannot be read is one clear
:class:`~demo_search.errors.DataError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from demo_search.errors import DataError, DemoSearchError
from demo_search.exports import ExportDocument
from demo_search.templates.urial import load_urial
from demo_search.types import Demonstration

BASE = "base"
"""The argument that names the configuration's base prompt (its rules and fixed demonstrations)."""

SourceKind = Literal["base", "export", "urial"]


@dataclass(frozen=True)
class PromptSource:
    """One prompt to evaluate: its ``label`` (the argument as given), what it was read from, its rules and its
    demonstrations in prompt order."""

    label: str
    kind: SourceKind
    rules: str
    demonstrations: tuple[Demonstration, ...]


def base_source(rules: str, fixed: tuple[Demonstration, ...]) -> PromptSource:
    """The configuration's base prompt: ``rules`` and the ``fixed`` demonstrations."""
    return PromptSource(BASE, "base", rules, fixed)


def read_source(argument: str) -> PromptSource:
    """The prompt of the file ``argument`` (an export or a URIAL prompt file, see the module docstring)."""
    path = Path(argument)
    if not path.is_file():
        raise DataError(f"{argument}: no such file (give an export, a URIAL prompt file, or {BASE!r})")
    try:
        head = path.read_text(encoding="utf-8").lstrip()[:1]
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{argument}: cannot read it ({error})") from None
    if path.suffix.lower() == ".json" or head == "{":
        return _export_source(argument, path)
    prompt = load_urial(path)
    return PromptSource(argument, "urial", prompt.rules, prompt.demonstrations)


def _export_source(argument: str, path: Path) -> PromptSource:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise DataError(f"{argument}: not a readable export: invalid JSON ({error})") from None
    if not isinstance(payload, dict):
        raise DataError(f"{argument}: not a readable export: the JSON is not an object")
    try:
        document = ExportDocument.from_payload(payload)
    except DemoSearchError as error:
        first = error.problems[0] if error.problems else error.summary
        raise DataError(
            f"{argument}: not a readable export: {error.summary} ({first}"
            + (f", and {len(error.problems) - 1} more)" if len(error.problems) > 1 else ")")
        ) from None
    return PromptSource(argument, "export", document.template.rules, document.demonstrations_in_prompt_order())


__all__ = ["BASE", "PromptSource", "SourceKind", "base_source", "read_source"]
