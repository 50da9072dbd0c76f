"""The prompt of one (candidate set, held-out prompt) pair, rebuilt from what the store keeps.

The store keeps no rendered prompts, but everything they are made of: the configuration (template kind and
insertion position), the rules, the fixed demonstrations, the pool and the held-out prompts. This renders them
with the project's own template code, as the search laid them out: the set's demonstrations in order, the fixed
ones before or after them, then the prompt. A prompt that follows another (MT-Bench's turn 2) gets the history
the search gave it: the followed prompt with the answer generated to it under the same set, or its reference
for a log-likelihood search (:mod:`demo_search.search.turns`).

A URIAL search's prompt is its exact text. A chat-template search renders its messages with the model's chat
template, which needs the model's tokenizer; the dashboard does not load models, so it shows the messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from demo_search.search.turns import filled, with_references
from demo_search.templates import InsertionPosition, UrialTemplate, ordered_demonstrations
from demo_search.templates.chat_template import context_messages
from demo_search.types import Demonstration, HeldOutPrompt


def prompt_in_conversation(
    prompt: HeldOutPrompt,
    prompts: Sequence[HeldOutPrompt],
    *,
    scorer: str,
    answer_of: Callable[[str], str | None],
) -> HeldOutPrompt:
    """``prompt`` with the history the search gave it (see the module docstring); as stored when it follows
    nothing, or when an answer its history needs is not stored yet."""
    if prompt.follows is None:
        return prompt
    if scorer == "loglik":
        return next(p for p in with_references(prompts) if p.id == prompt.id)
    return filled(prompt, {p.id: p for p in prompts}, answer_of) or prompt


def render_pair_prompt(
    config: Mapping[str, Any],
    rules: str,
    fixed: Sequence[Demonstration],
    selected: Sequence[Demonstration],
    prompt: HeldOutPrompt,
) -> str:
    """The prompt of ``prompt`` after the candidate set ``selected`` (and the search's ``fixed`` demonstrations,
    placed where ``config['template']['position']`` puts them)."""
    template = config.get("template", {})
    position = cast(InsertionPosition, template.get("position", "before_fixed"))
    demonstrations = ordered_demonstrations(selected, (), fixed, position)
    if template.get("kind", "urial") == "chat":
        history = (Demonstration.from_turns(prompt.history),) if prompt.history else ()
        messages = [*context_messages(rules, [*demonstrations, *history]), {"role": "user", "content": prompt.query}]
        return "\n\n".join(f"[{message['role']}]\n{message['content']}" for message in messages)
    return UrialTemplate().render_prompt(rules, demonstrations, prompt)
