"""Steps tokenized into a ``workers.tree.PrefixTree`` (byte tokenizer, nothing downloaded): every prompt's ids are
its whole text's, cut at the longest common token prefixes. ``test_whole_string_ids`` runs real tokenizers."""

from __future__ import annotations

import os
import string

import pytest

from demo_search.templates import (
    INSERTION_POSITIONS,
    BranchPlan,
    BranchText,
    ChatTemplate,
    LeafText,
    StepText,
    TemplateError,
    UrialTemplate,
    build_prefix_tree,
    build_step_tree,
    count_tokens,
    encode_text,
    layout_step,
    load_urial,
    longest_request,
    ordered_demonstrations,
    render_step,
    tokenize_step,
)
from demo_search.types import Demonstration, HeldOutPrompt
from tests.demo_search.templates.chatml import CHATML
from tests.paper_data import PAPER_DATA
from workers.tiny import build_byte_tokenizer

RULES = "Answer like the examples."
POOL = tuple(Demonstration.single(f"q{i} ü", f"a{i}\n```\nx\n```") for i in range(5))
LOOKS_SPECIAL = Demonstration.single("say <s>", "a </s> b")
FIXED = (Demonstration.single("fixed q", "fixed a"),)
PROMPTS = (HeldOutPrompt.create("Q1", reference="R1 ✓"), HeldOutPrompt.create("Q2"))


@pytest.fixture(scope="module")
def tokenizer():
    return build_byte_tokenizer()


def utf8_ids(tokenizer, text: str) -> tuple[int, ...]:
    """The byte tokenizer's ids of ``text`` as plain bytes (special-token text included)."""
    return encode_text(tokenizer, text, parse_special_tokens=False)


@pytest.mark.parametrize("position", INSERTION_POSITIONS)
@pytest.mark.parametrize("kind", ["urial", "chat"])
def test_every_prompt_is_bos_then_its_text_and_shares_the_prefix(tokenizer, kind, position):
    template = UrialTemplate() if kind == "urial" else ChatTemplate(tokenizer, chat_template=CHATML)
    selected, candidates = POOL[:1], POOL[1:4]
    tree = build_step_tree(
        template, tokenizer, RULES, selected=selected, candidates=candidates, fixed=FIXED,
        prompts=PROMPTS, position=position, with_targets=True, add_bos=True,
    )
    assert [b.branch_id for b in tree.branches] == [c.id for c in candidates]
    assert [x.leaf_id for x in tree.leaves] == [p.id for p in PROMPTS]
    assert tree.prefix_ids[0] == tokenizer.bos_token_id
    assert tree.prefix_ids.count(tokenizer.bos_token_id) == 1
    for branch, candidate in zip(tree.branches, candidates):
        demos = ordered_demonstrations(selected, (candidate,), FIXED, position)
        for leaf, prompt in zip(tree.leaves, PROMPTS):
            ids = tree.full_prompt(branch, leaf, with_target=True)
            assert ids[: len(tree.prefix_ids)] == tree.prefix_ids
            text = template.render_prompt(RULES, demos, prompt, with_target=True)
            if kind == "urial":
                assert ids == (tokenizer.bos_token_id,) + utf8_ids(tokenizer, text)  # one byte is one token
            else:
                # the template writes <s> and </s> as text, which must become the control tokens
                assert list(ids) == tokenizer.encode(text, add_special_tokens=False)
    target = template.render_target(RULES, POOL, PROMPTS[0])
    assert tree.leaves[0].target_ids == encode_text(tokenizer, target, parse_special_tokens=template.parse_special_tokens)
    assert tree.leaves[1].target_ids == ()
    full = [tree.full_prompt(b, x, with_target=True) for b in tree.branches for x in tree.leaves]
    assert len(tree.prefix_ids) == len(os.path.commonprefix(full)), "the prefix is the longest common token prefix"


def test_chat_control_tokens_are_tokens_and_the_chat_bos_is_not_doubled(tokenizer):
    template = ChatTemplate(tokenizer, chat_template=CHATML)
    tree = build_step_tree(
        template, tokenizer, RULES, selected=(), candidates=POOL[:1], fixed=(), prompts=PROMPTS[:1],
        position="before_fixed", with_targets=True, add_bos=True,
    )
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    ids = tree.full_prompt(tree.branches[0], tree.leaves[0], with_target=True)
    head = (bos,) + utf8_ids(tokenizer, f"<|system|>\n{RULES}") + (eos,) + utf8_ids(tokenizer, "\n")
    assert ids[: len(head)] == head
    assert ids.count(bos) == 1
    assert tree.leaves[0].target_ids == utf8_ids(tokenizer, "R1 ✓") + (eos,) + utf8_ids(tokenizer, "\n")


def test_urial_special_token_text_stays_plain_bytes(tokenizer):
    tree = build_step_tree(
        UrialTemplate(), tokenizer, RULES, selected=(), candidates=(LOOKS_SPECIAL,), fixed=(), prompts=PROMPTS,
        position="before_fixed", with_targets=False,
    )
    ids = tree.full_prompt(tree.branches[0], tree.leaves[0], with_target=False)
    assert ids == utf8_ids(tokenizer, UrialTemplate().render_prompt(RULES, (LOOKS_SPECIAL,), PROMPTS[0]))
    assert tokenizer.eos_token_id not in ids
    assert all(x.target_ids == () for x in tree.leaves)


def test_the_prefix_branches_and_leaves_are_cut_at_common_token_prefixes(tokenizer):
    """Without BOS (the byte tokenizer adds none): the prefix runs into the candidates' common "# Query:" header and
    each branch into its leaves' common header, so the tree's bound is the token trie's node count."""
    step = render_step(
        UrialTemplate(), RULES, layout_step([BranchPlan("b", (), POOL[:1]), BranchPlan("c", (), POOL[1:2])], (), "before_fixed"),
        PROMPTS,
    )
    tree = tokenize_step(step, tokenizer, parse_special_tokens=False, with_targets=False)
    header, leaf_header = "# Query:\n```\nq", "# Query:\n```\nQ"  # candidates "q0 ü", "q1 ü"; prompts "Q1", "Q2"
    assert tree.prefix_ids == utf8_ids(tokenizer, step.prefix + header)
    assert tree.branches[0].token_ids == utf8_ids(tokenizer, step.branches[0].text[len(header) :] + leaf_header)
    assert [x.prompt_ids for x in tree.leaves] == [utf8_ids(tokenizer, x.prompt[len(leaf_header) :]) for x in step.leaves]
    for branch in step.branches:
        for leaf, tree_leaf in zip(step.leaves, tree.leaves):
            text = step.prompt_text(branch, leaf, with_target=False)
            sent = tree.full_prompt(next(b for b in tree.branches if b.branch_id == branch.branch_id), tree_leaf, with_target=False)
            assert sent == utf8_ids(tokenizer, text)


def test_beam_tree_prefix_is_what_the_beams_share(tokenizer):
    beams = ((POOL[0], POOL[1]), (POOL[0], POOL[2]))
    plans = [BranchPlan(f"{i}:{c.id}", beam, (c,)) for i, beam in enumerate(beams) for c in POOL[3:5]]
    layout = layout_step(plans, FIXED, "before_fixed")
    template = UrialTemplate()
    tree = build_prefix_tree(template, tokenizer, RULES, layout, PROMPTS, with_targets=False, add_bos=True)
    shared = template.render_context(RULES, POOL[:1]) + "# Query:\n```\nq"  # POOL[1] and POOL[2] start alike
    assert tree.prefix_ids == (tokenizer.bos_token_id,) + utf8_ids(tokenizer, shared)
    for plan, branch in zip(plans, tree.branches):
        demos = ordered_demonstrations(plan.selected, plan.added, FIXED, "before_fixed")
        ids = tree.full_prompt(branch, tree.leaves[0], with_target=False)
        assert ids == (tokenizer.bos_token_id,) + utf8_ids(tokenizer, template.render_prompt(RULES, demos, PROMPTS[0]))


def test_bos_is_added_as_the_tokenizer_adds_it_unless_add_bos_says(tokenizer):
    kwargs = dict(selected=(), candidates=POOL[:1], fixed=(), prompts=PROMPTS, position="before_fixed", with_targets=False)
    assert tokenizer("x")["input_ids"][0] != tokenizer.bos_token_id  # the byte tokenizer adds no BOS itself
    default = build_step_tree(UrialTemplate(), tokenizer, RULES, **kwargs)
    assert default.prefix_ids[:3] == utf8_ids(tokenizer, RULES[:3])
    forced = build_step_tree(UrialTemplate(), tokenizer, RULES, add_bos=True, **kwargs)
    assert forced.prefix_ids == (tokenizer.bos_token_id,) + default.prefix_ids
    step = StepText(prefix="", branches=(BranchText("a", "A"), BranchText("b", "B")), leaves=(LeafText("q", "x", None),))
    with pytest.raises(TemplateError, match="share no first token"):
        tokenize_step(step, tokenizer, parse_special_tokens=False, with_targets=False)
    assert tokenize_step(step, tokenizer, parse_special_tokens=False, with_targets=False, add_bos=True).prefix_ids == (
        tokenizer.bos_token_id,
    )
    assert build_step_tree(UrialTemplate(), tokenizer, "", add_bos=True, **kwargs).prefix_ids[0] == tokenizer.bos_token_id


def prefix_space_byte_tokenizer():
    """The byte tokenizer, but adding a space before every text it encodes (GPT-2's add_prefix_space)."""
    from tokenizers import pre_tokenizers

    tokenizer = build_byte_tokenizer()
    tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=False)
    return tokenizer


def metaspace_tokenizer():
    """A character-level SentencePiece-style tokenizer: it prepends "▁" to every text it encodes and its decoder
    drops that space again at the start of the decoded text, so each segment alone decodes to itself."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    characters = sorted(set(string.printable) | set("▁üé✓"))
    vocab = {token: i for i, token in enumerate(["<unk>", "<s>", "</s>", *characters])}
    raw = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    raw.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    return PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


@pytest.mark.parametrize("make_tokenizer", [prefix_space_byte_tokenizer, metaspace_tokenizer])
def test_a_tokenizer_that_adds_a_leading_space_gets_it_once_at_the_start_of_each_prompt(make_tokenizer):
    """Such tokenizers were refused when segments were tokenized apart (each segment got its own leading space);
    tokenizing whole prompts sends what the tokenizer gives the whole text: one leading space, at the start."""
    tokenizer = make_tokenizer()
    template = UrialTemplate()
    tree = build_step_tree(
        template, tokenizer, RULES, selected=(), candidates=POOL[:2], fixed=(), prompts=PROMPTS,
        position="before_fixed", with_targets=True,
    )
    for branch, candidate in zip(tree.branches, POOL[:2]):
        for leaf, prompt in zip(tree.leaves, PROMPTS):
            text = template.render_prompt(RULES, (candidate,), prompt, with_target=True)
            assert list(tree.full_prompt(branch, leaf, with_target=True)) == tokenizer(text)["input_ids"]


def test_lengths_for_budgets_and_the_context_window(tokenizer):
    assert count_tokens(tokenizer, "ü<s>") == len("ü<s>".encode())
    assert count_tokens(tokenizer, "ü<s>", parse_special_tokens=True) == 3
    assert count_tokens(tokenizer, "") == 0
    tree = build_step_tree(
        UrialTemplate(), tokenizer, RULES, selected=(), candidates=(POOL[0], Demonstration.single("long " * 20, "x")),
        fixed=(), prompts=PROMPTS, position="before_fixed", with_targets=True,
    )
    longest = max(len(tree.full_prompt(b, x, with_target=True)) for b in tree.branches for x in tree.leaves)
    assert longest_request(tree, with_targets=True) == longest
    no_target = max(len(tree.full_prompt(b, x, with_target=False)) for b in tree.branches for x in tree.leaves)
    assert longest_request(tree, with_targets=False, max_new_tokens=64) == no_target + 64


def test_urial_file_as_fixed_demonstrations_builds_a_tree(tokenizer):
    base = load_urial(PAPER_DATA / "urial.txt")
    candidates = load_urial(PAPER_DATA / "urial.plus.best_4-5-6.txt").demonstrations[:3]
    tree = build_step_tree(
        UrialTemplate(), tokenizer, base.rules, selected=(), candidates=candidates, fixed=base.demonstrations,
        prompts=PROMPTS, position="before_fixed", with_targets=True,
    )
    file_bytes = (PAPER_DATA / "urial.txt").read_bytes()
    ids = tree.full_prompt(tree.branches[0], tree.leaves[0], with_target=False)
    text = tokenizer.decode(list(ids))
    assert text.startswith(base.rules + "\n\n" + candidates[0].query.join(["# Query:\n```\n", "\n```"]))
    assert file_bytes.decode()[len(base.rules) + 2 :].rstrip("\n") in text
    assert tree.trie_bound(with_target=True) < tree.naive_total(with_target=True)
