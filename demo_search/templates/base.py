"""The prompt-template interface: how rules, demonstrations and a held-out prompt become prompt text."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from demo_search.errors import DemoSearchError
from demo_search.types import Demonstration, HeldOutPrompt
from workers.decoding import DecodingParams
from workers.tree import LeafGeneration


class TemplateError(DemoSearchError):
    """A prompt template cannot render a search step as prefix-tree segments (see the message for why)."""


@dataclass(frozen=True)
class PromptSegments:
    """One prompt cut into the segments of the README's "How it works": ``prefix + branch + leaf`` (+ ``target`` when scored)."""

    prefix: str
    branch: str
    leaf: str
    target: str | None = None

    def text(self, *, with_target: bool) -> str:
        return self.prefix + self.branch + self.leaf + ((self.target or "") if with_target else "")


class PromptTemplate(ABC):
    """Renders rules text, an ordered list of demonstrations and a held-out prompt as one prompt.

    Contract (every implementation):
    * ``render_context(rules, demos)`` is the text of the rules followed by ``demos`` in order. Adding
      demonstrations only appends text: ``render_context(rules, demos[:k])`` is a prefix of
      ``render_context(rules, demos)``; ``render_branch`` checks it and raises ``TemplateError`` when a
      format breaks it.
    * ``render_leaf(rules, demos, prompt)`` is the text that follows ``render_context(rules, demos)`` in the
      prompt of ``prompt``: its earlier turns, its query and the header after which the answer is generated.
      It must not depend on which demonstrations precede it (the prefix tree shares a leaf's tokens under
      every branch); ``render_step`` checks this across branches.
    * ``render_target(rules, demos, prompt)`` is the text that follows the leaf when the reference answer is
      the answer: the reference and what closes an answer; ``None`` when the prompt has no reference.
    * ``stop_strings`` end a generated answer, and so does sampling one of ``stop_token_ids`` (control tokens
      such as a chat template's end-of-turn, whose text engines do not decode); ``extract_answer`` takes the
      answer out of generated text that stopped at one of them, at end of sequence, or at the token limit.
    * ``parse_special_tokens`` says whether rendered text writes control tokens as text that must be encoded
      as those tokens (chat templates); when false, text that looks like a special token is plain text.
    """

    parse_special_tokens: bool = False

    @property
    @abstractmethod
    def stop_strings(self) -> tuple[str, ...]:
        """Strings that end a generated answer."""

    @property
    def stop_token_ids(self) -> tuple[int, ...]:
        """Token ids that end a generated answer when sampled (none unless a template declares them)."""
        return ()

    @abstractmethod
    def render_context(self, rules: str, demonstrations: Sequence[Demonstration]) -> str:
        """The rules followed by ``demonstrations``."""

    @abstractmethod
    def render_leaf(self, rules: str, demonstrations: Sequence[Demonstration], prompt: HeldOutPrompt) -> str:
        """The text after ``render_context(rules, demonstrations)`` up to where the answer starts."""

    @abstractmethod
    def render_target(
        self, rules: str, demonstrations: Sequence[Demonstration], prompt: HeldOutPrompt
    ) -> str | None:
        """The reference answer and its closing, after the leaf; ``None`` without a reference."""

    @abstractmethod
    def extract_answer(self, generated: str) -> str:
        """The answer in a generated continuation of a leaf."""

    def generation_params(self, decoding: DecodingParams) -> DecodingParams:
        """``decoding`` as sent to the engines: the template's ``stop_strings`` and ``stop_token_ids`` added."""
        return decoding.with_stop(*self.stop_strings).with_stop_token_ids(*self.stop_token_ids)

    def answers(self, generations: Sequence[LeafGeneration]) -> list[LeafGeneration]:
        """The generations with their text cut down to the answer (``extract_answer``), in the same order."""
        return [dataclasses.replace(g, text=self.extract_answer(g.text)) for g in generations]

    def render_branch(
        self, rules: str, prefix: Sequence[Demonstration], branch: Sequence[Demonstration]
    ) -> tuple[str, str]:
        """``(prefix_text, branch_text)``: the contexts of ``prefix`` and of ``prefix + branch``, cut where they part.

        Raises ``TemplateError`` when the longer context does not start with the shorter one.
        """
        prefix_text = self.render_context(rules, prefix)
        full_text = self.render_context(rules, [*prefix, *branch])
        branch_text = text_added(
            prefix_text,
            full_text,
            summary=f"{type(self).__name__}: adding demonstrations changes the text before them, so the prompt cannot "
            "be cut into a shared prefix and a branch",
            before_name=f"the context of {len(prefix)} demonstration(s) {_ids(prefix)}",
            after_name=f"the context with {len(branch)} more {_ids(branch)}",
        )
        return prefix_text, branch_text

    def render_prompt(
        self, rules: str, demonstrations: Sequence[Demonstration], prompt: HeldOutPrompt, *, with_target: bool = False
    ) -> str:
        """The whole prompt: context, leaf, and with ``with_target`` the target (when the prompt has one)."""
        text = self.render_context(rules, demonstrations) + self.render_leaf(rules, demonstrations, prompt)
        target = self.render_target(rules, demonstrations, prompt) if with_target else None
        return text + (target or "")

    def segments(
        self,
        rules: str,
        prefix: Sequence[Demonstration],
        branch: Sequence[Demonstration],
        prompt: HeldOutPrompt,
    ) -> PromptSegments:
        """One prompt as segments, joining to ``render_prompt(rules, prefix + branch, prompt, ...)``."""
        prefix_text, branch_text = self.render_branch(rules, prefix, branch)
        demonstrations = [*prefix, *branch]
        return PromptSegments(
            prefix=prefix_text,
            branch=branch_text,
            leaf=self.render_leaf(rules, demonstrations, prompt),
            target=self.render_target(rules, demonstrations, prompt),
        )


def _ids(demonstrations: Sequence[Demonstration]) -> str:
    return "[" + ", ".join(demo.id for demo in demonstrations) + "]"


def text_added(before: str, after: str, *, summary: str, before_name: str, after_name: str) -> str:
    """What ``after`` adds to ``before``; ``TemplateError(summary)`` when ``after`` does not start with ``before``."""
    if after.startswith(before):
        return after[len(before) :]
    at = next((i for i, (x, y) in enumerate(zip(before, after)) if x != y), min(len(before), len(after)))
    raise TemplateError(
        summary,
        [
            f"the render of {after_name} does not start with the render of {before_name}: they differ at character "
            f"{at}: {before[at : at + 40]!r} vs {after[at : at + 40]!r}"
        ],
    )


__all__ = ["PromptSegments", "PromptTemplate", "TemplateError", "text_added"]
