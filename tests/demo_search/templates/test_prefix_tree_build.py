"""Steps tokenized segment by segment into a ``workers.tree.PrefixTree`` (byte tokenizer, nothing downloaded)."""

from __future__ import annotations

import string

import pytest

from demo_search.templates import (
    INSERTION_POSITIONS,
    BranchPlan,
    ChatTemplate,
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
def test_every_prompt_is_bos_then_its_segments_and_shares_the_prefix(tokenizer, kind, position):
    template = UrialTemplate() if kind == "urial" else ChatTemplate(tokenizer, chat_template=CHATML)
    selected, candidates = POOL[:1], POOL[1:4]
    tree = build_step_tree(
        template, tokenizer, RULES, selected=selected, candidates=candidates, fixed=FIXED,
        prompts=PROMPTS, position=position, with_targets=True,
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


def test_chat_control_tokens_are_tokens_and_the_chat_bos_is_not_doubled(tokenizer):
    template = ChatTemplate(tokenizer, chat_template=CHATML)
    tree = build_step_tree(
        template, tokenizer, RULES, selected=(), candidates=POOL[:1], fixed=(), prompts=PROMPTS[:1],
        position="before_fixed", with_targets=True,
    )
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    assert tree.prefix_ids == (bos,) + utf8_ids(tokenizer, f"<|system|>\n{RULES}") + (eos,) + utf8_ids(tokenizer, "\n")
    assert tree.leaves[0].target_ids == utf8_ids(tokenizer, "R1 ✓") + (eos,) + utf8_ids(tokenizer, "\n")


def test_urial_special_token_text_stays_plain_bytes(tokenizer):
    tree = build_step_tree(
        UrialTemplate(), tokenizer, RULES, selected=(), candidates=(LOOKS_SPECIAL,), fixed=(), prompts=PROMPTS,
        position="before_fixed", with_targets=False,
    )
    assert tree.branches[0].token_ids == utf8_ids(tokenizer, UrialTemplate().render_context("", (LOOKS_SPECIAL,)))
    assert tokenizer.eos_token_id not in tree.branches[0].token_ids
    assert all(x.target_ids == () for x in tree.leaves)


def test_segments_are_tokenized_apart_not_as_the_joined_text(tokenizer):
    step = render_step(
        UrialTemplate(), RULES, layout_step([BranchPlan("b", (), POOL[:1])], (), "before_fixed"), PROMPTS
    )
    tree = tokenize_step(step, tokenizer, parse_special_tokens=False, with_targets=False, add_bos=False)
    assert tree.prefix_ids == utf8_ids(tokenizer, step.prefix)
    assert tree.branches[0].token_ids == utf8_ids(tokenizer, step.branches[0].text)
    assert [x.prompt_ids for x in tree.leaves] == [utf8_ids(tokenizer, x.prompt) for x in step.leaves]


def test_beam_tree_prefix_is_what_the_beams_share(tokenizer):
    beams = ((POOL[0], POOL[1]), (POOL[0], POOL[2]))
    plans = [BranchPlan(f"{i}:{c.id}", beam, (c,)) for i, beam in enumerate(beams) for c in POOL[3:5]]
    layout = layout_step(plans, FIXED, "before_fixed")
    template = UrialTemplate()
    tree = build_prefix_tree(template, tokenizer, RULES, layout, PROMPTS, with_targets=False)
    assert tree.prefix_ids == (tokenizer.bos_token_id,) + utf8_ids(tokenizer, template.render_context(RULES, POOL[:1]))
    for plan, branch in zip(plans, tree.branches):
        demos = ordered_demonstrations(plan.selected, plan.added, FIXED, "before_fixed")
        ids = tree.full_prompt(branch, tree.leaves[0], with_target=False)
        assert ids == (tokenizer.bos_token_id,) + utf8_ids(tokenizer, template.render_prompt(RULES, demos, PROMPTS[0]))


def test_bos_follows_add_bos(tokenizer):
    kwargs = dict(selected=(), candidates=POOL[:1], fixed=(), prompts=PROMPTS, position="before_fixed", with_targets=False)
    without = build_step_tree(UrialTemplate(), tokenizer, RULES, add_bos=False, **kwargs)
    assert without.prefix_ids == utf8_ids(tokenizer, RULES + "\n\n")
    with pytest.raises(TemplateError, match="the shared prefix has no tokens"):
        build_step_tree(UrialTemplate(), tokenizer, "", add_bos=False, **kwargs)
    assert build_step_tree(UrialTemplate(), tokenizer, "", **kwargs).prefix_ids == (tokenizer.bos_token_id,)


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
def test_a_tokenizer_that_adds_a_leading_space_to_each_segment_is_refused(make_tokenizer):
    tokenizer = make_tokenizer()
    assert tokenizer.decode(tokenizer.encode("# Query", add_special_tokens=False)).strip() == "# Query"
    with pytest.raises(TemplateError, match="does not reproduce a segment tokenized on its own") as caught:
        build_step_tree(
            UrialTemplate(), tokenizer, RULES, selected=(), candidates=POOL[:2], fixed=(), prompts=PROMPTS,
            position="before_fixed", with_targets=False,
        )
    assert "add_prefix_space=False" in str(caught.value)
    tree = build_step_tree(
        UrialTemplate(), tokenizer, RULES, selected=(), candidates=POOL[:2], fixed=(), prompts=PROMPTS,
        position="before_fixed", with_targets=False, check_round_trip=False,
    )
    assert len(tree.branches) == 2


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
    text = tokenizer.decode(list(ids[1:]))
    assert text.startswith(base.rules + "\n\n" + candidates[0].query.join(["# Query:\n```\n", "\n```"]))
    assert file_bytes.decode()[len(base.rules) + 2 :].rstrip("\n") in text
    assert tree.trie_bound(with_target=True) < tree.naive_total(with_target=True)
