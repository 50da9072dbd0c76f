"""A search step rendered as text segments: one shared prefix, one text per branch, one per held-out prompt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from demo_search.templates.base import PromptTemplate, TemplateError
from demo_search.templates.layout import StepLayout
from demo_search.types import HeldOutPrompt


@dataclass(frozen=True)
class BranchText:
    branch_id: str
    text: str


@dataclass(frozen=True)
class LeafText:
    """A held-out prompt's leaf text and, when it has a reference, its target text."""

    leaf_id: str
    prompt: str
    target: str | None


@dataclass(frozen=True)
class StepText:
    """The text form of a prefix tree: ``prefix + branch.text + leaf.prompt (+ leaf.target)`` is every prompt."""

    prefix: str
    branches: tuple[BranchText, ...]
    leaves: tuple[LeafText, ...]

    def prompt_text(self, branch: BranchText, leaf: LeafText, *, with_target: bool) -> str:
        return self.prefix + branch.text + leaf.prompt + ((leaf.target or "") if with_target else "")


def render_step(
    template: PromptTemplate, rules: str, layout: StepLayout, prompts: Sequence[HeldOutPrompt]
) -> StepText:
    """Render every branch of ``layout`` and every prompt as segments.

    Leaves are rendered once, after the first branch; since the prefix tree shares them under every branch,
    the first prompt's leaf is rendered after every other branch too and must come out the same, else
    ``TemplateError``.
    """
    if not layout.branches:
        raise ValueError("a step needs at least one branch")
    prefix = template.render_context(rules, layout.prefix)
    branches = []
    for branch in layout.branches:
        branch_prefix, text = template.render_branch(rules, layout.prefix, branch.demonstrations)
        if branch_prefix != prefix:
            raise TemplateError(
                f"{type(template).__name__} renders the same demonstrations differently from one call to the next",
                [f"the shared prefix came out differently when rendering branch {branch.branch_id!r}"],
            )
        branches.append(BranchText(branch.branch_id, text))
    first = layout.demonstrations(layout.branches[0])
    leaves = tuple(
        LeafText(p.id, template.render_leaf(rules, first, p), template.render_target(rules, first, p)) for p in prompts
    )
    if prompts:
        _check_leaf_is_shared(template, rules, layout, prompts[0], leaves[0])
    return StepText(prefix=prefix, branches=tuple(branches), leaves=leaves)


def _check_leaf_is_shared(
    template: PromptTemplate, rules: str, layout: StepLayout, prompt: HeldOutPrompt, leaf: LeafText
) -> None:
    for branch in layout.branches[1:]:
        if template.render_leaf(rules, layout.demonstrations(branch), prompt) != leaf.prompt:
            raise TemplateError(
                f"{type(template).__name__}: the text of a held-out prompt depends on the demonstrations before it, so "
                "its tokens cannot be shared under every branch",
                [
                    f"prompt {prompt.id!r} renders differently after branch {branch.branch_id!r} than after branch "
                    f"{layout.branches[0].branch_id!r}"
                ],
            )


__all__ = ["BranchText", "LeafText", "StepText", "render_step"]
