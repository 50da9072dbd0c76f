"""Smoke test of benchmark B1 on a tiny step: the accounting identities its table relies on."""

from __future__ import annotations

import pytest
import torch

from benchmarks.b1_prefix import build_trees, run_transformers
from benchmarks.b1_vllm import servable_by_blocks

pytestmark = pytest.mark.timeout(120)


def test_servable_by_blocks_counts_full_shared_blocks_and_never_a_whole_request():
    first = list(range(10))
    shares_two_blocks = list(range(9)) + [99]
    same_as_first = list(range(10))
    # blocks of 4: the 2nd request reuses [0..3] and [4..7]; the 3rd is identical to the 1st, but its last token
    # must be computed, so it reuses 8 tokens (the 3rd block of 4 would end past token 9).
    assert servable_by_blocks([first, shares_two_blocks, same_as_first], block_size=4) == 16
    assert servable_by_blocks([first, [7] + first], block_size=4) == 0


def test_tiny_b1_step_computes_exactly_the_trie_bound():
    torch.set_num_threads(1)
    path, trees = build_trees(candidates=2, prompts=3, layouts=("after_fixed",))
    run = run_transformers(path, trees["after_fixed"], "after_fixed", batch_size=2)
    assert run.computed == run.trie_bound == trees["after_fixed"].trie_bound(with_target=False)
    assert run.real == run.trie_bound  # what the model was fed, less padding, is the bound itself
    assert run.fed >= run.real
    assert run.naive_total == trees["after_fixed"].naive_total(with_target=False) > run.trie_bound
