"""``token_split``: whole-prompt ids cut into a prefix tree at common token prefixes (ids only, no tokenizer)."""

from __future__ import annotations

import pytest

from demo_search.templates import TemplateError
from demo_search.templates.token_split import EncodedPrompt, TreeAssembler, common_prefix_length


def plain(*ids: int) -> EncodedPrompt:
    return EncodedPrompt(tuple(ids), len(ids))


def assemble(leaf_ids, branches):
    assembler = TreeAssembler(leaf_ids)
    for branch_id, prompts in branches:
        assembler.add_branch(branch_id, prompts)
    return assembler.tree()


@pytest.mark.parametrize("length", [0, 1, 5, 1000])
def test_common_prefix_length_finds_the_first_difference(length):
    first = tuple(range(length)) + (7, 8)
    assert common_prefix_length(first, tuple(range(length)) + (9,)) == length
    assert common_prefix_length(first, first) == len(first)
    assert common_prefix_length(first, first, limit=3) == min(3, len(first))
    assert common_prefix_length(first, first[:length]) == length


def test_the_cut_is_the_token_trie_and_every_full_prompt_is_the_input():
    prompts = {
        "a": [plain(1, 2, 3, 10, 11, 20, 21), plain(1, 2, 3, 10, 11, 30)],
        "b": [plain(1, 2, 4, 11, 20, 21), plain(1, 2, 4, 11, 30)],
    }
    tree = assemble(["x", "y"], prompts.items())
    assert tree.prefix_ids == (1, 2)
    assert [b.token_ids for b in tree.branches] == [(3, 10, 11), (4, 11)]
    assert [x.prompt_ids for x in tree.leaves] == [(20, 21), (30,)]
    for branch in tree.branches:
        for leaf, prompt in zip(tree.leaves, prompts[branch.branch_id]):
            assert tree.full_prompt(branch, leaf, with_target=False) == prompt.ids
    assert tree.trie_bound(with_target=False) == 2 + 3 + 2 + 2 * 3


def test_targets_stay_targets_and_every_leaf_keeps_a_prompt_token():
    """One leaf and one branch: everything but the leaf's last prompt token is shared; the target is its own."""
    tree = assemble(["x"], [("a", [EncodedPrompt((1, 2, 3, 4, 5), 3)])])
    assert tree.prefix_ids == (1, 2)
    assert tree.branches[0].token_ids == ()
    assert (tree.leaves[0].prompt_ids, tree.leaves[0].target_ids) == ((3,), (4, 5))
    identical = assemble(["x", "y"], [("a", [plain(1, 2, 3), plain(1, 2, 3)])])
    assert [x.prompt_ids for x in identical.leaves] == [(3,), (3,)]


def test_a_leaf_tokenized_differently_under_two_branches_is_refused():
    """Branch "b" merges its last text with leaf "y"'s first (token 99): no shared leaf can send both."""
    prompts = [("a", [plain(1, 5, 20, 21), plain(1, 5, 30, 31)]), ("b", [plain(1, 6, 20, 21), plain(1, 99, 31)])]
    with pytest.raises(TemplateError, match="differently under different branches") as caught:
        assemble(["x", "y"], prompts)
    assert "after branch 'b'" in str(caught.value) and "after branch 'a'" in str(caught.value)


def test_a_branch_that_merges_the_same_way_under_every_leaf_is_fine():
    """Branch "b" ends with a token merged with the leaves' common first token (66 = 5 + 20): the branch takes it."""
    prompts = [("a", [plain(1, 5, 20, 21), plain(1, 5, 20, 31)]), ("b", [plain(1, 66, 21), plain(1, 66, 31)])]
    tree = assemble(["x", "y"], prompts)
    assert [b.token_ids for b in tree.branches] == [(5, 20), (66,)]
    assert [x.prompt_ids for x in tree.leaves] == [(21,), (31,)]


def test_prompts_without_a_common_first_token_or_without_prompt_tokens_are_refused():
    with pytest.raises(TemplateError, match="share no first token"):
        assemble(["x"], [("a", [plain(1, 2)]), ("b", [plain(3, 2)])])
    with pytest.raises(TemplateError, match="no tokens before its target"):
        assemble(["x"], [("a", [EncodedPrompt((4, 5), 0)])])
    with pytest.raises(ValueError, match="2 prompts for 1 leaves"):
        assemble(["x"], [("a", [plain(1, 2), plain(1, 3)])])
