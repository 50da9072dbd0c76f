"""The text each ``demo-search export --format`` writes, by format name."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from demo_search.exports.document import export_to_urial
from demo_search.exports.messages import export_to_messages
from demo_search.exports.model import ExportDocument

EXPORT_WRITERS: Mapping[str, Callable[[ExportDocument], str]] = {
    "json": ExportDocument.to_json,
    "urial": export_to_urial,
    "messages": export_to_messages,
}
"""``json``: the export document (schema-validated); ``urial``: a URIAL prompt file; ``messages``: chat messages
for an OpenAI-compatible chat endpoint (:mod:`demo_search.exports.messages`)."""


def render_export(document: ExportDocument, fmt: str) -> str:
    """The text of ``document`` in export format ``fmt`` (a key of :data:`EXPORT_WRITERS`)."""
    return EXPORT_WRITERS[fmt](document)


__all__ = ["EXPORT_WRITERS", "render_export"]
