"""The chat template: a tokenizer's ``apply_chat_template``, the rules as system message, demonstrations as turns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from demo_search.templates.base import PromptTemplate, TemplateError, text_added
from demo_search.types import Demonstration, HeldOutPrompt, Turn

_PROBE_QUERY = "probe query"
_PROBE_ANSWER = "probe answer"

Message = dict[str, str]

_NOT_INCREMENTAL = (
    "the chat template is not incremental: a longer conversation does not start with the render of a shorter one, so "
    "prompts cannot be cut into prefix-tree segments (use the urial template, or a chat template that renders earlier "
    "messages the same way whatever follows)"
)


class ChatTemplate(PromptTemplate):
    """Prompts rendered by a Hugging Face tokenizer's Jinja chat template.

    The rules are the system message (none when the rules are empty), every turn of a demonstration is a
    user/assistant message pair, and a leaf is the prompt's earlier turns, its query as a user message and the
    generation prompt. Segments are differences of incremental renders: the context of ``k`` demonstrations,
    the leaf as what the generation prompt render adds to it, the target as what the reference answer's render
    adds to that. Each render must start with the one before it; chat templates for which that does not hold
    (e.g. ones that render the last assistant message differently) raise ``TemplateError`` naming the renders.

    ``chat_template`` overrides the tokenizer's own template. ``end_of_turn`` is the text the template writes
    after an assistant message (e.g. ``<|im_end|>\n``), found by rendering a probe turn. An answer ends at the
    end-of-turn *token*: ``stop_token_ids`` are the id of the first control token of ``end_of_turn`` (when it
    writes one, such as ``<|im_end|>``, ``<|eot_id|>`` or ``</s>``) and the tokenizer's EOS id. Engines decode
    without control tokens, so their text never matches as a stop string; the id does. ``stop_strings``
    defaults to the end-of-turn text as well, for templates whose end-of-turn is plain text.

    The rendered text is tokenized with special-token parsing (the template writes its control tokens as text),
    so, as with ``apply_chat_template(tokenize=True)``, control-token text inside a message's content becomes
    that control token too.
    """

    parse_special_tokens = True

    def __init__(
        self, tokenizer: Any, chat_template: str | None = None, stop_strings: Sequence[str] | None = None
    ) -> None:
        if chat_template is None and not getattr(tokenizer, "chat_template", None):
            raise TemplateError(
                "the chat template needs a Jinja chat template",
                [
                    f"{type(tokenizer).__name__} has no chat_template; give one (template.chat_template) "
                    "or use the urial template"
                ],
            )
        self._tokenizer = tokenizer
        self._chat_template = chat_template
        self._end_of_turn = self._probe_end_of_turn()
        if stop_strings is None:
            stop_strings = (self._end_of_turn.strip(),) if self._end_of_turn.strip() else ()
        if any(not stop for stop in stop_strings):
            raise ValueError(f"stop_strings must be non-empty strings, got {tuple(stop_strings)!r}")
        self._stop_strings = tuple(stop_strings)
        self._stop_token_ids = self._end_of_turn_ids()

    @property
    def stop_strings(self) -> tuple[str, ...]:
        return self._stop_strings

    @property
    def stop_token_ids(self) -> tuple[int, ...]:
        """The end-of-turn token's id (when ``end_of_turn`` writes a control token), then the tokenizer's EOS."""
        return self._stop_token_ids

    @property
    def end_of_turn(self) -> str:
        """The text the template writes after an assistant message's content."""
        return self._end_of_turn

    def render_context(self, rules: str, demonstrations: Sequence[Demonstration]) -> str:
        return self._render(context_messages(rules, demonstrations), add_generation_prompt=False)

    def render_leaf(self, rules: str, demonstrations: Sequence[Demonstration], prompt: HeldOutPrompt) -> str:
        context = context_messages(rules, demonstrations)
        before = self._render(context, add_generation_prompt=False)
        after = self._render(context + _leaf_messages(prompt), add_generation_prompt=True)
        return _appended(
            before,
            after,
            f"the context of {len(demonstrations)} demonstration(s)",
            f"prompt {prompt.id!r} with the generation prompt",
        )

    def render_target(
        self, rules: str, demonstrations: Sequence[Demonstration], prompt: HeldOutPrompt
    ) -> str | None:
        if prompt.reference is None:
            return None
        messages = context_messages(rules, demonstrations) + _leaf_messages(prompt)
        before = self._render(messages, add_generation_prompt=True)
        answered = messages + [{"role": "assistant", "content": prompt.reference}]
        after = self._render(answered, add_generation_prompt=False)
        return _appended(
            before,
            after,
            f"prompt {prompt.id!r} with the generation prompt",
            f"prompt {prompt.id!r} with its reference answer",
        )

    def extract_answer(self, generated: str) -> str:
        marker = self._end_of_turn.strip()
        body = generated.rstrip()
        if marker and body.endswith(marker):
            return body[: -len(marker)]
        return generated

    def _probe_end_of_turn(self) -> str:
        messages: list[Message] = [{"role": "user", "content": _PROBE_QUERY}]
        before = self._render(messages, add_generation_prompt=True)
        answered = messages + [{"role": "assistant", "content": _PROBE_ANSWER}]
        after = self._render(answered, add_generation_prompt=False)
        added = _appended(
            before, after, "a probe user message with the generation prompt", "the probe's assistant answer"
        )
        if not added.startswith(_PROBE_ANSWER):
            raise TemplateError(
                "the chat template does not write an assistant message right after the generation prompt",
                [f"expected the render of the answer to add {_PROBE_ANSWER!r} first, it added {added[:80]!r}"],
            )
        return added[len(_PROBE_ANSWER) :]

    def _end_of_turn_ids(self) -> tuple[int, ...]:
        control = _control_token_ids(self._tokenizer)
        written = self._tokenizer.encode(self._end_of_turn, add_special_tokens=False) if self._end_of_turn else []
        marker = next((int(i) for i in written if int(i) in control), None)
        eos = getattr(self._tokenizer, "eos_token_id", None)
        eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
        return tuple(dict.fromkeys(int(i) for i in [*([marker] if marker is not None else []), *eos_ids]))

    def _render(self, messages: list[Message], *, add_generation_prompt: bool) -> str:
        if not messages:
            return ""
        try:
            text = self._tokenizer.apply_chat_template(
                messages,
                chat_template=self._chat_template,
                add_generation_prompt=add_generation_prompt,
                tokenize=False,
            )
        except Exception as exc:  # a chat template is code: syntax, undefined names, filters, raise_exception(...)
            roles = ", ".join(message["role"] for message in messages)
            refuses_system = messages[0]["role"] == "system"
            hint = " (leave the rules empty if the template refuses a system message)" if refuses_system else ""
            raise TemplateError(
                "the chat template failed to render a conversation",
                [f"roles [{roles}], add_generation_prompt={add_generation_prompt}: {type(exc).__name__}: {exc}{hint}"],
            ) from exc
        if not isinstance(text, str):
            raise TemplateError(
                "the chat template did not render text", [f"apply_chat_template returned {type(text).__name__}"]
            )
        return text


def _control_token_ids(tokenizer: Any) -> set[int]:
    """Ids of the tokenizer's special tokens: those it names and the added tokens marked special."""
    named = {int(i) for i in getattr(tokenizer, "all_special_ids", ()) or ()}
    added = getattr(tokenizer, "added_tokens_decoder", None) or {}
    return named | {int(i) for i, token in added.items() if getattr(token, "special", False)}


def context_messages(rules: str, demonstrations: Sequence[Demonstration]) -> list[Message]:
    """The chat messages of the rules and ``demonstrations``: a system message with the rules (none when they are
    empty), then a user and an assistant message for every turn of every demonstration, in order."""
    messages: list[Message] = [{"role": "system", "content": rules}] if rules else []
    for demo in demonstrations:
        for turn in demo.turns:
            messages.extend(_turn_messages(turn))
    return messages


def _turn_messages(turn: Turn) -> list[Message]:
    return [{"role": "user", "content": turn.query}, {"role": "assistant", "content": turn.answer}]


def _leaf_messages(prompt: HeldOutPrompt) -> list[Message]:
    messages = [message for turn in prompt.history for message in _turn_messages(turn)]
    return messages + [{"role": "user", "content": prompt.query}]


def _appended(before: str, after: str, before_name: str, after_name: str) -> str:
    return text_added(before, after, summary=_NOT_INCREMENTAL, before_name=before_name, after_name=after_name)


__all__ = ["ChatTemplate", "Message", "context_messages"]
