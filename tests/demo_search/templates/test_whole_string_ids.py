"""The ids sent for every prompt of a step are the whole-string tokenization of its text, on real tokenizers.

Matrix: six real tokenizers (``tests/support/real_tokenizers.py``: Llama-3 BPE, Qwen2, Mistral-7B-v0.1's
SentencePiece with ``legacy`` true and false, Mistral tekken, GPT-NeoX) × both insertion layouts × generation
and likelihood prompts, on a step built from the shared URIAL + MT-Bench data: URIAL's rules and three
demonstrations fixed, the paper's three searched demonstrations as candidates, the 80 MT-Bench first turns (the
38 with a reference when scoring). The reference ids are the tokenizer's own ``tokenizer(text)`` (special tokens
added as the tokenizer adds them, special-token text kept as text, as the URIAL template asks).
"""

from __future__ import annotations

import functools
import os

import pytest

from demo_search.data import load_heldout
from demo_search.templates import (
    INSERTION_POSITIONS,
    UrialTemplate,
    build_step_tree,
    encode_text,
    load_urial,
    ordered_demonstrations,
    render_step,
)
from demo_search.templates.layout import candidate_plans, layout_step
from demo_search.templates.tokenization import tokenizer_adds_bos
from demo_search.types import HeldOutPrompt
from tests.paper_data import PAPER_DATA
from tests.support.real_tokenizers import ADDS_BOS, REAL_TOKENIZERS, load_real_tokenizer

TEMPLATE = UrialTemplate()
MAX_TRIE_OVERHEAD = 0.02


@functools.cache
def step_data():
    """URIAL's rules and demonstrations (fixed), the paper's 4th-6th demonstrations (candidates), MT-Bench."""
    urial = load_urial(PAPER_DATA / "urial.txt")
    fixed_ids = {demo.id for demo in urial.demonstrations}
    best = load_urial(PAPER_DATA / "urial.plus.best_4-5-6.txt").demonstrations
    candidates = tuple(demo for demo in best if demo.id not in fixed_ids)
    prompts = tuple(load_heldout(PAPER_DATA / "mt_bench_question.jsonl").items)
    return urial.rules, tuple(urial.demonstrations), candidates, prompts


@pytest.fixture(scope="module", params=REAL_TOKENIZERS)
def real_tokenizer(request):
    return request.param, load_real_tokenizer(request.param)


def trie_node_count(sequences) -> int:
    """Nodes of the token trie of ``sequences`` (distinct non-empty prefixes): in sorted order each sequence adds
    the tokens after its common prefix with the one before it."""
    ordered = sorted(set(sequences))
    total, previous = 0, ()
    for sequence in ordered:
        total += len(sequence) - len(os.path.commonprefix([previous, sequence]))
        previous = sequence
    return total


def first_difference(got, expected, tokenizer) -> str:
    at = len(os.path.commonprefix([list(got), list(expected)]))
    return (
        f"differ at token {at} of {len(expected)}: sent {tokenizer.convert_ids_to_tokens(list(got[at : at + 4]))}, "
        f"whole string {tokenizer.convert_ids_to_tokens(list(expected[at : at + 4]))}"
    )


@pytest.mark.parametrize("scored", [False, True], ids=["generation", "loglik"])
@pytest.mark.parametrize("position", INSERTION_POSITIONS)
def test_every_prompt_of_a_step_is_sent_as_its_whole_string_ids(real_tokenizer, position, scored):
    name, tokenizer = real_tokenizer
    rules, fixed, candidates, all_prompts = step_data()
    prompts = tuple(p for p in all_prompts if p.reference) if scored else all_prompts
    tree = build_step_tree(
        TEMPLATE, tokenizer, rules, selected=(), candidates=candidates, fixed=fixed, prompts=prompts,
        position=position, with_targets=scored,
    )
    assert [b.branch_id for b in tree.branches] == [c.id for c in candidates]
    assert [x.leaf_id for x in tree.leaves] == [p.id for p in prompts]
    bos = tokenizer.bos_token_id
    checked, sent = 0, []
    for branch, candidate in zip(tree.branches, candidates):
        demos = ordered_demonstrations((), (candidate,), fixed, position)
        texts = [TEMPLATE.render_prompt(rules, demos, p, with_target=scored) for p in prompts]
        whole = tokenizer(texts, split_special_tokens=True, return_offsets_mapping=True)
        for leaf, prompt, expected, offsets in zip(tree.leaves, prompts, whole["input_ids"], whole["offset_mapping"]):
            ids = tree.full_prompt(branch, leaf, with_target=scored)
            assert ids == tuple(expected), f"{name} {position} {prompt.id}: " + first_difference(ids, expected, tokenizer)
            assert (bos is not None and ids[0] == bos) is ADDS_BOS[name], f"{name}: BOS as the tokenizer adds it"
            assert bos is None or bos not in ids[1:]
            if scored:
                target_char = len(TEMPLATE.render_prompt(rules, demos, prompt, with_target=False))
                first_target = len(ids) - len(leaf.target_ids)
                assert leaf.target_ids and leaf.prompt_ids
                assert offsets[first_target][1] > target_char, "the first target token covers a reference character"
                assert all(end <= target_char for _, end in offsets[:first_target]), "prompt tokens cover no reference"
            checked += 1
            sent.append(ids)
    expected_count = len(candidates) * len(prompts)
    assert checked == expected_count == len(tree.branches) * len(tree.leaves), (
        f"{name} {position} {'loglik' if scored else 'generation'}: {checked} prompts checked"
    )
    trie = trie_node_count(sent)
    bound = tree.trie_bound(with_target=scored)
    assert trie <= bound <= (1 + MAX_TRIE_OVERHEAD) * trie, (
        f"{name} {position}: tree bound {bound} vs token trie {trie} ({bound / trie:.4f}x) over {checked} prompts"
    )


def test_the_tokenizers_bos_behaviour_is_detected(real_tokenizer):
    name, tokenizer = real_tokenizer
    assert tokenizer_adds_bos(tokenizer) is ADDS_BOS[name]


@pytest.mark.parametrize("name", ["gpt-neox", "mistral-v1-legacy"])
def test_segment_wise_ids_would_differ_so_the_matrix_checks_something(name):
    """What the step tree sent before whole-string tokenization: each segment alone, concatenated. On GPT-NeoX
    every prompt differs at the demonstration boundaries; SentencePiece adds a space before every segment."""
    tokenizer = load_real_tokenizer(name)
    rules, fixed, candidates, prompts = step_data()
    step = render_step(TEMPLATE, rules, layout_step(candidate_plans((), candidates[:1]), fixed, "before_fixed"), prompts[:10])
    differing = 0
    for leaf in step.leaves:
        segments = sum(
            (encode_text(tokenizer, text) for text in (step.prefix, step.branches[0].text, leaf.prompt)), ()
        )
        whole = encode_text(tokenizer, step.prompt_text(step.branches[0], leaf, with_target=False))
        differing += segments != whole
    assert differing == len(step.leaves)


def test_a_straddling_token_belongs_to_the_target():
    """A reference starting with a newline: Llama-3 merges the answer fence's newline with it into one token, which
    is scored as the target's first token; the ids are still the whole string's."""
    tokenizer = load_real_tokenizer("llama3")
    rules, fixed, _, prompts = step_data()
    prompt = HeldOutPrompt.create(prompts[0].query, reference="\nThe answer is 4.")
    tree = build_step_tree(
        TEMPLATE, tokenizer, rules, selected=(), candidates=fixed[:1], fixed=(), prompts=(prompt,),
        position="before_fixed", with_targets=True,
    )
    text = TEMPLATE.render_prompt(rules, fixed[:1], prompt, with_target=True)
    ids = tree.full_prompt(tree.branches[0], tree.leaves[0], with_target=True)
    assert list(ids) == tokenizer(text)["input_ids"]
    target = tree.leaves[0].target_ids
    first = tokenizer.decode([target[0]])
    assert first.startswith("`") or first.startswith("\n\n"), f"{first!r} straddles the fence and the reference"
    assert tokenizer.decode(list(target)).endswith(TEMPLATE.render_target(rules, fixed[:1], prompt))
    assert target != encode_text(tokenizer, TEMPLATE.render_target(rules, fixed[:1], prompt))
