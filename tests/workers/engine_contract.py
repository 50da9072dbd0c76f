"""Behaviour every ``Engine`` must have: one suite, run over every implementation.

Use it by subclassing ``EngineContract`` in a test module and providing an ``engine`` fixture::

    class TestMyEngineContract(EngineContract):
        @pytest.fixture(scope="class")
        @classmethod
        def engine(cls, random_model_dir):
            engine = MyEngine(random_model_dir)
            yield engine
            engine.close()

Two more fixtures may be overridden: ``contract_tokens`` (ordinary token ids of the engine's vocabulary; the
default suits the byte-level tokenizer of ``workers.tiny``, where ids 0-2 are special) and ``score_tolerance``
(largest allowed difference between log-probabilities of the same request computed in different calls).
The tests only read the engine's results; ``warm`` is the one state change they make.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import pytest

from workers.decoding import DecodingParams
from workers.engine import Engine
from workers.errors import ContextLengthError
from workers.tree import Branch, Leaf, LeafGeneration, PrefixTree

GEN_TOKENS = 10


def build_tree(
    tokens: Sequence[int],
    *,
    seed: int,
    prefix: int,
    branches: Sequence[int],
    leaves: Sequence[tuple[int, int]],
) -> PrefixTree:
    """A tree of random ``tokens``: ``branches`` are branch lengths, ``leaves`` (prompt, target) lengths."""
    rng = random.Random(seed)

    def ids(n: int) -> tuple[int, ...]:
        return tuple(rng.choice(tokens) for _ in range(n))

    return PrefixTree(
        prefix_ids=ids(prefix),
        branches=tuple(Branch(f"b{i}", ids(n)) for i, n in enumerate(branches)),
        leaves=tuple(Leaf(f"q{i}", ids(n), ids(t)) for i, (n, t) in enumerate(leaves)),
    )


def requests_of(tree: PrefixTree) -> list[tuple[Branch, Leaf]]:
    """Every (branch, leaf) request of ``tree`` in engine order: branch-major, leaf-minor."""
    return [(b, x) for b in tree.branches for x in tree.leaves]


def request_ids(tree: PrefixTree) -> list[tuple[str, str]]:
    return [(b.branch_id, x.leaf_id) for b, x in requests_of(tree)]


def single_request(tree: PrefixTree, branch_index: int, leaf_index: int) -> PrefixTree:
    return PrefixTree(tree.prefix_ids, (tree.branches[branch_index],), (tree.leaves[leaf_index],))


def pick_stop_string(generations: Sequence[LeafGeneration]) -> str | None:
    """A printable ASCII two-character piece of some answer, not at its very start (so the cut text is non-empty)."""
    for generation in generations:
        text = generation.text
        for start in range(1, len(text) - 1):
            piece = text[start : start + 2]
            if piece.isascii() and piece.isprintable():
                return piece
    return None


class EngineContract:
    """The shared suite; a subclass supplies the ``engine`` fixture."""

    @pytest.fixture
    def engine(self) -> Engine:
        raise NotImplementedError("a subclass of EngineContract must provide the `engine` fixture")

    @pytest.fixture
    def contract_tokens(self) -> tuple[int, ...]:
        return tuple(range(3, 259))

    @pytest.fixture
    def score_tolerance(self) -> float:
        return 1e-4

    @pytest.fixture
    def tree(self, contract_tokens: tuple[int, ...]) -> PrefixTree:
        return build_tree(
            contract_tokens, seed=11, prefix=9, branches=(4, 0, 7), leaves=((3, 2), (8, 5), (5, 0), (12, 1))
        )

    # -- score -----------------------------------------------------------------------------------------------

    def test_score_results_come_in_input_order(self, engine: Engine, tree: PrefixTree) -> None:
        result = engine.score(tree)
        assert [(s.branch_id, s.leaf_id) for s in result.scores] == request_ids(tree)

    def test_score_has_one_finite_logprob_per_target_token(self, engine: Engine, tree: PrefixTree) -> None:
        result = engine.score(tree)
        targets = [x.target_ids for _ in tree.branches for x in tree.leaves]
        assert [s.count for s in result.scores] == [len(t) for t in targets]
        values = [v for s in result.scores for v in s.token_logprobs]
        assert values and all(math.isfinite(v) and v <= 0.0 for v in values)
        assert all(s.token_logprobs == () for s, t in zip(result.scores, targets, strict=True) if not t)

    def test_score_token_counts_add_up(self, engine: Engine, tree: PrefixTree) -> None:
        result = engine.score(tree)
        for score, (branch, leaf) in zip(result.scores, requests_of(tree), strict=True):
            counts = score.tokens
            assert counts.prompt_tokens == len(tree.full_prompt(branch, leaf, with_target=True))
            assert counts.prompt_tokens == counts.computed_tokens + counts.cached_tokens
            assert counts.computed_tokens >= 0 and counts.cached_tokens >= 0
        stats = result.stats
        assert stats.prompt_tokens == tree.naive_total(with_target=True)
        assert stats.computed_tokens == sum(s.tokens.computed_tokens for s in result.scores)
        assert stats.cached_tokens == sum(s.tokens.cached_tokens for s in result.scores)
        assert stats.wall_time_s > 0.0

    def test_score_of_a_request_does_not_depend_on_the_others(
        self, engine: Engine, tree: PrefixTree, score_tolerance: float
    ) -> None:
        together = {(s.branch_id, s.leaf_id): s.token_logprobs for s in engine.score(tree).scores}
        reversed_leaves = PrefixTree(tree.prefix_ids, tree.branches[::-1], tree.leaves[::-1])
        for s in engine.score(reversed_leaves).scores:
            assert s.token_logprobs == pytest.approx(together[s.branch_id, s.leaf_id], abs=score_tolerance)
        alone = engine.score(single_request(tree, 2, 1)).scores[0]
        assert alone.token_logprobs == pytest.approx(together[alone.branch_id, alone.leaf_id], abs=score_tolerance)

    def test_warm_does_not_change_scores(self, engine: Engine, tree: PrefixTree, score_tolerance: float) -> None:
        cold = engine.score(tree)
        engine.warm(tree.prefix_ids)
        warm = engine.score(tree)
        for a, b in zip(cold.scores, warm.scores, strict=True):
            assert b.token_logprobs == pytest.approx(a.token_logprobs, abs=score_tolerance)

    def test_score_raises_context_error_naming_the_request(self, engine: Engine, contract_tokens) -> None:
        leaf_prompt = engine.max_context - 6  # prefix 2 + branch 2 + leaf prompt + target 2 == max_context
        tree = build_tree(contract_tokens, seed=3, prefix=2, branches=(2,), leaves=((leaf_prompt, 2), (1, 1)))
        assert engine.score(tree).scores[0].count == 2  # exactly max_context tokens fit
        long_leaf = Leaf("long-leaf", tree.leaves[0].prompt_ids, (5, 5, 5))
        too_long = PrefixTree(tree.prefix_ids, (Branch("long-branch", (7, 7)),), (tree.leaves[1], long_leaf))
        with pytest.raises(ContextLengthError) as error:
            engine.score(too_long)
        assert "long-branch" in str(error.value) and "long-leaf" in str(error.value)

    # -- generate --------------------------------------------------------------------------------------------

    def test_generate_results_come_in_input_order_with_counts(self, engine: Engine, tree: PrefixTree) -> None:
        result = engine.generate(tree, DecodingParams(max_tokens=GEN_TOKENS))
        assert [(g.branch_id, g.leaf_id) for g in result.generations] == request_ids(tree)
        for generation, (branch, leaf) in zip(result.generations, requests_of(tree), strict=True):
            counts = generation.tokens
            assert counts.prompt_tokens == len(tree.full_prompt(branch, leaf, with_target=False))
            assert counts.prompt_tokens == counts.computed_tokens + counts.cached_tokens
        assert result.stats.prompt_tokens == tree.naive_total(with_target=False)
        assert result.stats.computed_tokens == sum(g.tokens.computed_tokens for g in result.generations)

    def test_generate_respects_max_tokens(self, engine: Engine, tree: PrefixTree) -> None:
        for generation in engine.generate(tree, DecodingParams(max_tokens=4)).generations:
            assert 1 <= len(generation.token_ids) <= 4
            assert generation.finish_reason in ("stop", "length")
            if generation.finish_reason == "length":
                assert len(generation.token_ids) == 4

    def test_greedy_is_deterministic_and_independent_of_the_others(self, engine: Engine, tree: PrefixTree) -> None:
        params = DecodingParams(max_tokens=GEN_TOKENS)
        first = engine.generate(tree, params).generations
        again = engine.generate(tree, params).generations
        assert [g.token_ids for g in again] == [g.token_ids for g in first]
        alone = engine.generate(single_request(tree, 2, 3), params).generations[0]
        assert alone.token_ids == first[2 * len(tree.leaves) + 3].token_ids

    def test_stop_strings_cut_the_text_before_them(self, engine: Engine, tree: PrefixTree) -> None:
        plain = engine.generate(tree, DecodingParams(max_tokens=GEN_TOKENS)).generations
        stop = pick_stop_string(plain)
        assert stop is not None, "greedy answers hold no printable 2-character piece to use as a stop string"
        stopped = engine.generate(tree, DecodingParams(max_tokens=GEN_TOKENS, stop=(stop, "\x00never"))).generations
        cut_somewhere = False
        for before, after in zip(plain, stopped, strict=True):
            assert stop not in after.text
            if stop in before.text:
                cut_somewhere = True
                assert after.text == before.text[: before.text.index(stop)]
                assert after.finish_reason == "stop"
            else:
                assert (after.text, after.finish_reason) == (before.text, before.finish_reason)
        assert cut_somewhere

    def test_stop_token_ids_end_the_answer_at_that_id(self, engine: Engine, tree: PrefixTree) -> None:
        plain = engine.generate(tree, DecodingParams(max_tokens=GEN_TOKENS)).generations
        chosen = next((g for g in plain if len(g.token_ids) >= 3), None)
        assert chosen is not None, "no greedy answer is 3 tokens long"
        stop_id = chosen.token_ids[2]
        stopped = engine.generate(tree, DecodingParams(max_tokens=GEN_TOKENS, stop_token_ids=(stop_id,)))
        for before, after in zip(plain, stopped.generations, strict=True):
            if stop_id in before.token_ids:
                end = before.token_ids.index(stop_id) + 1
                assert after.token_ids == before.token_ids[:end]  # the stop id is reported, as vLLM does
                assert after.finish_reason == "stop"
                assert before.text.startswith(after.text)  # the stop token's text is left out
            else:
                assert (after.token_ids, after.text) == (before.token_ids, before.text)
        stopped_chosen = stopped.generations[plain.index(chosen)]
        assert len(stopped_chosen.token_ids) <= 3 < GEN_TOKENS

    def test_seeded_sampling_is_reproducible(self, engine: Engine, tree: PrefixTree) -> None:
        params = DecodingParams(temperature=1.0, top_p=0.95, max_tokens=GEN_TOKENS, seed=1234)
        first = engine.generate(tree, params).generations
        again = engine.generate(tree, params).generations
        assert [g.token_ids for g in again] == [g.token_ids for g in first]
        other_seed = engine.generate(tree, DecodingParams(temperature=1.0, top_p=0.95, max_tokens=GEN_TOKENS, seed=99))
        assert [g.token_ids for g in other_seed.generations] != [g.token_ids for g in first]

    def test_generate_raises_context_error_counting_max_tokens(self, engine: Engine, contract_tokens) -> None:
        length = engine.max_context - GEN_TOKENS + 1  # fits alone, not with max_tokens
        tree = build_tree(contract_tokens, seed=5, prefix=3, branches=(1,), leaves=((length - 4, 0),))
        with pytest.raises(ContextLengthError) as error:
            engine.generate(tree, DecodingParams(max_tokens=GEN_TOKENS))
        assert "'b0'" in str(error.value) and "'q0'" in str(error.value)
