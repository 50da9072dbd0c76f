"""The URIAL template: rules, then ``# Query:`` / ``# Answer:`` blocks, then the held-out query's block, open."""

from __future__ import annotations

from collections.abc import Sequence

from demo_search.templates import urial
from demo_search.templates.base import PromptTemplate
from demo_search.types import Demonstration, HeldOutPrompt


class UrialTemplate(PromptTemplate):
    """Prompts laid out as URIAL prompt files (see ``demo_search.templates.urial``).

    The context is the rules and every demonstration's blocks, each followed by a blank line, so the context of
    a URIAL prompt file's own rules and demonstrations is that file's text up to its last closing fence plus the
    blank line before the next block. The leaf is the blocks of the prompt's earlier turns, then its query block
    and the ``# Answer:`` heading with the opening fence; the target is the reference and the closing fence.

    ``stop_strings`` defaults to URIAL's own ``# Query``; ``(urial.BLOCK_STOP,)`` stops right before the
    closing fence instead. Either way ``extract_answer`` returns the answer without its fence.
    """

    def __init__(self, stop_strings: Sequence[str] = (urial.URIAL_STOP,)) -> None:
        if not stop_strings or any(not stop for stop in stop_strings):
            raise ValueError(f"stop_strings must be non-empty strings, got {tuple(stop_strings)!r}")
        self._stop_strings = tuple(stop_strings)

    @property
    def stop_strings(self) -> tuple[str, ...]:
        return self._stop_strings

    def render_context(self, rules: str, demonstrations: Sequence[Demonstration]) -> str:
        parts = [rules] if rules else []
        parts.extend(urial.render_demonstration(demo) for demo in demonstrations)
        return "".join(part + urial.BLOCK_SEPARATOR for part in parts)

    def render_leaf(self, rules: str, demonstrations: Sequence[Demonstration], prompt: HeldOutPrompt) -> str:
        earlier = "".join(urial.render_turn(turn) + urial.BLOCK_SEPARATOR for turn in prompt.history)
        return earlier + urial.query_header(prompt.query)

    def render_target(
        self, rules: str, demonstrations: Sequence[Demonstration], prompt: HeldOutPrompt
    ) -> str | None:
        return None if prompt.reference is None else urial.answer_tail(prompt.reference)

    def extract_answer(self, generated: str) -> str:
        return urial.extract_answer(generated)


__all__ = ["UrialTemplate"]
