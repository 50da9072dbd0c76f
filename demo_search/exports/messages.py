"""The best set as OpenAI / Hugging Face chat messages (``demo-search export --format messages``).

One JSON object on one line (so that it is also a one-record JSON Lines file):

``messages``
    The rules as the system message (none when they are empty), then a user and an assistant message for every
    turn of every demonstration, in prompt order: the ``messages`` of a request to an OpenAI-compatible chat
    endpoint (vLLM's ``/v1/chat/completions`` among them) once the user's own query is appended as a last
    ``{"role": "user", ...}`` message. They are the messages a chat-template search renders
    (:func:`demo_search.templates.chat_template.context_messages`).
``demonstration_turns``
    The number of exchanges of each demonstration, in order: what lets the file load back, as a pool or a
    fixed-demonstrations file in the ``messages`` format, as the very demonstrations it was made of. It is not
    a request field: send ``messages`` only.
"""

from __future__ import annotations

import json
import logging

from demo_search.exports.model import ExportDocument
from demo_search.templates.chat_template import context_messages

logger = logging.getLogger(__name__)


def export_to_messages(document: ExportDocument) -> str:
    """The export's rules and demonstrations as chat messages (see the module docstring), with a final newline."""
    demonstrations = document.demonstrations_in_prompt_order()
    if document.template.kind != "chat":
        logger.info(
            "search %s was searched with the %s template; its messages hold the same rules and demonstrations, "
            "which the serving model's chat template lays out instead", document.search.name, document.template.kind,
        )
    payload = {
        "messages": context_messages(document.template.rules, demonstrations),
        "demonstration_turns": [len(demo.turns) for demo in demonstrations],
    }
    return json.dumps(payload, ensure_ascii=False) + "\n"


__all__ = ["export_to_messages"]
