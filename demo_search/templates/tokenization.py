"""Token ids of a search step: every prompt tokenized as one whole string, cut into a ``workers.tree.PrefixTree``.

The model receives exactly the ids that tokenizing the whole prompt text gives, which is what it saw in
pretraining and what URIAL and the paper's scripts send (DESIGN.md, "The work of one step is a prefix tree").
Tokenizing segment by segment and concatenating would not: GPT-2-style pre-tokenizers merge across segment
boundaries and SentencePiece adds a leading space to every text it encodes. The tree is then cut on token ids
(``token_split``): the shared prefix is the longest common token prefix of the step's prompts.

* BOS: put first exactly when the tokenizer itself does (``tokenizer_adds_bos``), unless ``add_bos`` says
  otherwise, and never twice (a chat template may write it as text).
* Targets (likelihood scoring): the prompt and its reference are tokenized together; the target ids are the
  tokens that cover any character of the reference (offset mappings). A token that straddles the boundary, such
  as a newline merged with the reference's first newline, is a target token: it is scored, and the prompt ids
  end before it. So the tokens sent are the whole string's, and every character of the reference is scored.
* Special-token-looking text inside demonstrations and queries stays plain text unless the template writes control
  tokens as text (``PromptTemplate.parse_special_tokens``, the chat template).

``tokenizer`` is a Hugging Face tokenizer (called on a batch of texts; offset mappings, hence a fast tokenizer,
are needed only for targets).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from demo_search.templates.base import PromptTemplate, TemplateError
from demo_search.templates.layout import InsertionPosition, StepLayout, candidate_plans, layout_step
from demo_search.templates.step import StepText, render_step
from demo_search.templates.token_split import EncodedPrompt, TreeAssembler
from demo_search.types import Demonstration, HeldOutPrompt
from workers.tree import PrefixTree


def encode_text(tokenizer: Any, text: str, *, parse_special_tokens: bool = False) -> tuple[int, ...]:
    """Token ids of ``text`` alone: no special tokens added; special-token text parsed only when asked."""
    if not text:
        return ()
    return tuple(tokenizer.encode(text, add_special_tokens=False, split_special_tokens=not parse_special_tokens))


def count_tokens(tokenizer: Any, text: str, *, parse_special_tokens: bool = False) -> int:
    """How many tokens ``text`` takes as one segment (used for token budgets and context-window checks)."""
    return len(encode_text(tokenizer, text, parse_special_tokens=parse_special_tokens))


def tokenizer_adds_bos(tokenizer: Any) -> bool:
    """Whether ``tokenizer`` itself puts its BOS token first when it encodes a text with special tokens."""
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is None:
        return False
    ids = tokenizer("x", add_special_tokens=True)["input_ids"]
    return bool(ids) and ids[0] == bos


def bos_ids(tokenizer: Any, add_bos: bool | None) -> tuple[int, ...]:
    """The ids put before every prompt: the BOS token when ``add_bos`` (``None``: when the tokenizer adds it)."""
    bos = getattr(tokenizer, "bos_token_id", None)
    if add_bos is None:
        add_bos = tokenizer_adds_bos(tokenizer)
    if add_bos and bos is None:
        raise TemplateError(
            "cannot add a BOS token", [f"{type(tokenizer).__name__} has no bos_token_id; set add_bos to false"]
        )
    return (bos,) if add_bos else ()


def encode_prompts(
    tokenizer: Any,
    texts: Sequence[str],
    target_chars: Sequence[int | None],
    *,
    parse_special_tokens: bool,
    bos: tuple[int, ...],
) -> list[EncodedPrompt]:
    """Each text tokenized whole (one batch call), ``bos`` first unless the text's own ids start with it.

    ``target_chars[i]`` is where the target starts in ``texts[i]`` (``None``: no target); the target ids are the
    tokens whose character span ends after it (see the module docstring on straddling tokens).
    """
    with_offsets = any(start is not None for start in target_chars)
    if with_offsets and not getattr(tokenizer, "is_fast", False):
        raise TemplateError(
            "scoring reference answers needs a fast tokenizer",
            [f"{type(tokenizer).__name__} gives no offset mapping, so the reference's tokens cannot be found"],
        )
    encoded = tokenizer(
        list(texts),
        add_special_tokens=False,
        split_special_tokens=not parse_special_tokens,
        return_offsets_mapping=with_offsets,
        return_attention_mask=False,
    )
    prompts = []
    for i, ids in enumerate(encoded["input_ids"]):
        ids = tuple(ids)
        added = bos if ids[: len(bos)] != bos else ()
        start = target_chars[i]
        if start is None:
            prompts.append(EncodedPrompt(added + ids, len(added) + len(ids)))
            continue
        first = _first_token_ending_after(encoded["offset_mapping"][i], start)
        if first == len(ids):
            raise TemplateError(
                "a reference answer has no tokens of its own",
                [f"no token of {texts[i][start : start + 40]!r} ends after character {start} of its prompt"],
            )
        prompts.append(EncodedPrompt(added + ids, len(added) + first))
    return prompts


def _first_token_ending_after(offsets: Sequence[tuple[int, int]], char: int) -> int:
    for index, (_, end) in enumerate(offsets):
        if end > char:
            return index
    return len(offsets)


def tokenize_step(
    step: StepText,
    tokenizer: Any,
    *,
    parse_special_tokens: bool,
    with_targets: bool,
    add_bos: bool | None = None,
) -> PrefixTree:
    """The prefix tree of ``step``: every prompt (``step.prompt_text``) tokenized whole, BOS as ``bos_ids`` says,
    targets only ``with_targets`` and where a reference exists; cut as ``token_split`` describes.

    ``full_prompt(branch, leaf, with_target=with_targets)`` of the returned tree is exactly the whole-string ids
    of that prompt (with its target when scored). Raises ``TemplateError`` when no tree of that shape can send
    them (see ``token_split``).
    """
    for leaf in step.leaves:
        if not leaf.prompt:
            raise TemplateError("a held-out prompt rendered to empty text", [f"prompt {leaf.leaf_id!r}"])
    bos = bos_ids(tokenizer, add_bos)
    assembler = TreeAssembler([leaf.leaf_id for leaf in step.leaves])
    for branch in step.branches:
        texts, target_chars = [], []
        for leaf in step.leaves:
            prompt = step.prompt_text(branch, leaf, with_target=False)
            scored = with_targets and bool(leaf.target)
            texts.append(prompt + (leaf.target or "") if scored else prompt)
            target_chars.append(len(prompt) if scored else None)
        prompts = encode_prompts(
            tokenizer, texts, target_chars, parse_special_tokens=parse_special_tokens, bos=bos
        )
        assembler.add_branch(branch.branch_id, prompts)
    return assembler.tree()


def build_prefix_tree(
    template: PromptTemplate,
    tokenizer: Any,
    rules: str,
    layout: StepLayout,
    prompts: Sequence[HeldOutPrompt],
    *,
    with_targets: bool,
    add_bos: bool | None = None,
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
    )


def longest_request(tree: PrefixTree, *, with_targets: bool, max_new_tokens: int = 0) -> int:
    """The most tokens any request of ``tree`` needs: prefix, longest branch, longest leaf with its target (when
    scoring) and ``max_new_tokens`` (when generating). Compare it with the model's context window."""
    branch = max((len(b.token_ids) for b in tree.branches), default=0)
    leaf = max((len(x.prompt_ids) + (len(x.target_ids) if with_targets else 0) for x in tree.leaves), default=0)
    return len(tree.prefix_ids) + branch + leaf + max_new_tokens


__all__ = [
    "bos_ids",
    "build_prefix_tree",
    "build_step_tree",
    "count_tokens",
    "encode_prompts",
    "encode_text",
    "longest_request",
    "tokenize_step",
    "tokenizer_adds_bos",
]
