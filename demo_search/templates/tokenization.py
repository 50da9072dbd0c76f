"""Token ids of a search step: segments tokenized one by one and concatenated into a ``workers.tree.PrefixTree``.

Tokenizing each segment on its own (never the joined text) keeps the shared prefix token-identical in every
prompt, whatever merges a tokenizer would make across a segment boundary (README, "How it works").
Special-token-looking text inside demonstrations and queries stays plain text unless the template writes control
tokens as text
(``PromptTemplate.parse_special_tokens``, the chat template).

``tokenizer`` is a Hugging Face tokenizer (anything with ``encode``, ``decode`` and ``bos_token_id``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from demo_search.templates.base import PromptTemplate, TemplateError
from demo_search.templates.layout import InsertionPosition, StepLayout, candidate_plans, layout_step
from demo_search.templates.step import StepText, render_step
from demo_search.types import Demonstration, HeldOutPrompt
from workers.tree import Branch, Leaf, PrefixTree


def encode_text(tokenizer: Any, text: str, *, parse_special_tokens: bool = False) -> tuple[int, ...]:
    """Token ids of ``text`` alone: no special tokens added; special-token text parsed only when asked."""
    if not text:
        return ()
    return tuple(tokenizer.encode(text, add_special_tokens=False, split_special_tokens=not parse_special_tokens))


def count_tokens(tokenizer: Any, text: str, *, parse_special_tokens: bool = False) -> int:
    """How many tokens ``text`` takes as one segment (used for token budgets and context-window checks)."""
    return len(encode_text(tokenizer, text, parse_special_tokens=parse_special_tokens))


def bos_ids(tokenizer: Any, add_bos: bool | None) -> tuple[int, ...]:
    """The ids put before the prefix: the BOS token when ``add_bos`` (``None``: when the tokenizer has one)."""
    bos = getattr(tokenizer, "bos_token_id", None)
    if add_bos is None:
        add_bos = bos is not None
    if add_bos and bos is None:
        raise TemplateError(
            "cannot add a BOS token", [f"{type(tokenizer).__name__} has no bos_token_id; set add_bos to false"]
        )
    return (bos,) if add_bos else ()


def tokenize_step(
    step: StepText,
    tokenizer: Any,
    *,
    parse_special_tokens: bool,
    with_targets: bool,
    add_bos: bool | None = None,
    check_round_trip: bool = True,
) -> PrefixTree:
    """The prefix tree of ``step``: each segment tokenized alone, the BOS token (see ``bos_ids``) before the prefix
    unless the prefix text already starts with it; targets only ``with_targets`` and where a reference exists.

    With ``check_round_trip``, every segment's ids, put after the ids of a short anchor text, must decode to the
    anchor followed by the segment's text; a tokenizer that adds text to a segment encoded on its own (e.g.
    SentencePiece's leading space) fails this with ``TemplateError``. The check decodes each segment once.
    """
    encoder = _SegmentEncoder(tokenizer, parse_special_tokens=parse_special_tokens, check=check_round_trip)
    prefix_ids = encoder.encode(step.prefix, "the shared prefix")
    bos = bos_ids(tokenizer, add_bos)
    if prefix_ids[: len(bos)] != bos:
        prefix_ids = bos + prefix_ids
    if not prefix_ids:
        raise TemplateError(
            "the shared prefix has no tokens",
            ["the rules and the shared demonstrations are empty and no BOS token is added; give rules text or add_bos"],
        )
    branches = tuple(Branch(b.branch_id, encoder.encode(b.text, f"branch {b.branch_id!r}")) for b in step.branches)
    leaves = []
    for leaf in step.leaves:
        if not leaf.prompt:
            raise TemplateError("a held-out prompt rendered to empty text", [f"prompt {leaf.leaf_id!r}"])
        prompt_ids = encoder.encode(leaf.prompt, f"prompt {leaf.leaf_id!r}")
        target = ()
        if with_targets and leaf.target:
            target = encoder.encode(leaf.target, f"the target of prompt {leaf.leaf_id!r}")
        leaves.append(Leaf(leaf_id=leaf.leaf_id, prompt_ids=prompt_ids, target_ids=target))
    return PrefixTree(prefix_ids=prefix_ids, branches=branches, leaves=tuple(leaves))


def build_prefix_tree(
    template: PromptTemplate,
    tokenizer: Any,
    rules: str,
    layout: StepLayout,
    prompts: Sequence[HeldOutPrompt],
    *,
    with_targets: bool,
    add_bos: bool | None = None,
    check_round_trip: bool = True,
) -> PrefixTree:
    """Render ``layout`` with ``template`` (``render_step``) and tokenize it (``tokenize_step``).

    Branch ids are the layout's branch ids, leaf ids the prompts' ids. Beam search passes a layout whose
    branches carry different selected sets (``layout_step`` computes what they share).
    """
    return tokenize_step(
        render_step(template, rules, layout, prompts),
        tokenizer,
        parse_special_tokens=template.parse_special_tokens,
        with_targets=with_targets,
        add_bos=add_bos,
        check_round_trip=check_round_trip,
    )


def build_step_tree(
    template: PromptTemplate,
    tokenizer: Any,
    rules: str,
    *,
    selected: Sequence[Demonstration],
    candidates: Sequence[Demonstration],
    fixed: Sequence[Demonstration],
    prompts: Sequence[HeldOutPrompt],
    position: InsertionPosition,
    with_targets: bool,
    add_bos: bool | None = None,
    check_round_trip: bool = True,
) -> PrefixTree:
    """Greedy search's step: one branch per candidate (branch id = candidate id) on the same selected set."""
    layout = layout_step(candidate_plans(selected, candidates), fixed, position)
    return build_prefix_tree(
        template,
        tokenizer,
        rules,
        layout,
        prompts,
        with_targets=with_targets,
        add_bos=add_bos,
        check_round_trip=check_round_trip,
    )


def longest_request(tree: PrefixTree, *, with_targets: bool, max_new_tokens: int = 0) -> int:
    """The most tokens any request of ``tree`` needs: prefix, longest branch, longest leaf with its target (when
    scoring) and ``max_new_tokens`` (when generating). Compare it with the model's context window."""
    branch = max((len(b.token_ids) for b in tree.branches), default=0)
    leaf = max((len(x.prompt_ids) + (len(x.target_ids) if with_targets else 0) for x in tree.leaves), default=0)
    return len(tree.prefix_ids) + branch + leaf + max_new_tokens


class _SegmentEncoder:
    """Encodes segments and, when asked, checks that each decodes back to its text after an anchor."""

    ANCHOR = "x"

    def __init__(self, tokenizer: Any, *, parse_special_tokens: bool, check: bool) -> None:
        self.tokenizer = tokenizer
        self.parse_special_tokens = parse_special_tokens
        self.check = check
        self.anchor_ids = encode_text(tokenizer, self.ANCHOR) if check else ()

    def encode(self, text: str, where: str) -> tuple[int, ...]:
        ids = encode_text(self.tokenizer, text, parse_special_tokens=self.parse_special_tokens)
        if self.check:
            expected = self.ANCHOR + text
            decoded = self.tokenizer.decode(
                list(self.anchor_ids + ids), skip_special_tokens=False, clean_up_tokenization_spaces=False
            )
            if decoded != expected:
                shorter = min(len(expected), len(decoded))
                at = next((i for i, (p, q) in enumerate(zip(expected, decoded)) if p != q), shorter)
                raise TemplateError(
                    "the tokenizer does not reproduce a segment tokenized on its own",
                    [
                        f"{where}: after the anchor {self.ANCHOR!r}, the decoded ids differ from the text at character "
                        f"{at}: {decoded[at : at + 30]!r} instead of {expected[at : at + 30]!r}",
                        "a tokenizer that adds a leading space to every text it encodes (SentencePiece) must be loaded "
                        "with add_prefix_space=False (or legacy=False)",
                    ],
                )
        return ids


__all__ = [
    "bos_ids",
    "build_prefix_tree",
    "build_step_tree",
    "count_tokens",
    "encode_text",
    "longest_request",
    "tokenize_step",
]
