"""TransformersEngine on a random tiny Llama (fp32, CPU): equal to plain uncached passes, bounded memory, counts."""

from __future__ import annotations

import logging
import weakref
from pathlib import Path

import pytest
import torch

from tests.workers.engine_contract import EngineContract, build_tree, request_ids, requests_of
from workers.decoding import DecodingParams
from workers.engines import create_engine
from workers.engines.transformers_engine import TransformersEngine
from workers.errors import ContextLengthError, EngineError
from workers.spec import EngineSpec
from workers.tree import PrefixTree

logger = logging.getLogger(__name__)

TOKENS = tuple(range(3, 259))
BATCH_SIZE = 3
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def engine(random_model_dir: Path) -> TransformersEngine:
    return TransformersEngine(random_model_dir, batch_size=BATCH_SIZE)


@pytest.fixture(scope="module")
def tree() -> PrefixTree:
    """Branches of different lengths (one empty); 7 leaves of 3..40 tokens with 0..12 target tokens."""
    leaves = ((3, 1), (10, 5), (40, 9), (7, 0), (25, 3), (4, 12), (33, 2))
    return build_tree(TOKENS, seed=1, prefix=20, branches=(5, 0, 17), leaves=leaves)


def uncached_logprobs(model: torch.nn.Module, full: tuple[int, ...], target_length: int) -> list[float]:
    """Log-probabilities of the last ``target_length`` tokens of ``full`` from one plain forward pass."""
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([full])).logits[0].float().log_softmax(-1)
    start = len(full) - target_length
    return [logits[start + j - 1, full[start + j]].item() for j in range(target_length)]


def uncached_greedy(model: torch.nn.Module, prompt: tuple[int, ...], max_tokens: int, penalty: float) -> list[int]:
    ids = torch.tensor([prompt])
    with torch.inference_mode():
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=max_tokens,
            repetition_penalty=penalty,
        )
    return out[0, len(prompt) :].tolist()


# -- equality with plain, uncached computation ---------------------------------------------------------------


def test_scores_equal_an_uncached_forward_pass(
    engine: TransformersEngine, tree: PrefixTree, record_property: pytest.RecordProperty
) -> None:
    result = engine.score(tree)
    assert [(s.branch_id, s.leaf_id) for s in result.scores] == request_ids(tree)
    requests = requests_of(tree)
    worst = 0.0
    for score, (branch, leaf) in zip(result.scores, requests, strict=True):
        full = tree.full_prompt(branch, leaf, with_target=True)
        expected = uncached_logprobs(engine.model, full, len(leaf.target_ids))
        assert len(score.token_logprobs) == len(expected)
        worst = max([worst, *(abs(a - b) for a, b in zip(score.token_logprobs, expected, strict=True))])
    logger.info("max abs difference of log-probabilities vs uncached forward: %.3g", worst)
    record_property("max_abs_logprob_diff", worst)
    assert worst <= TOLERANCE


@pytest.mark.parametrize("penalty", [1.0, 1.3])
def test_greedy_generation_equals_model_generate(engine: TransformersEngine, tree: PrefixTree, penalty: float) -> None:
    tree = PrefixTree(tree.prefix_ids, tree.branches[1:], tree.leaves)
    result = engine.generate(tree, DecodingParams(max_tokens=10, repetition_penalty=penalty))
    for generation, (branch, leaf) in zip(result.generations, requests_of(tree), strict=True):
        prompt = tree.full_prompt(branch, leaf, with_target=False)
        assert list(generation.token_ids) == uncached_greedy(engine.model, prompt, 10, penalty)


def test_repetition_penalty_changes_greedy_answers(engine: TransformersEngine, tree: PrefixTree) -> None:
    plain = engine.generate(tree, DecodingParams(max_tokens=10)).generations
    penalised = engine.generate(tree, DecodingParams(max_tokens=10, repetition_penalty=3.0)).generations
    assert [g.token_ids for g in plain] != [g.token_ids for g in penalised]


# -- sampling ------------------------------------------------------------------------------------------------


def test_seeded_sampling_does_not_depend_on_batching(random_model_dir: Path, tree: PrefixTree) -> None:
    params = DecodingParams(temperature=0.8, top_p=0.9, top_k=40, repetition_penalty=1.1, max_tokens=8, seed=7)
    one_by_one = TransformersEngine(random_model_dir, batch_size=1)
    four_at_once = TransformersEngine(random_model_dir, batch_size=4)
    expected = [g.token_ids for g in one_by_one.generate(tree, params).generations]
    assert [g.token_ids for g in four_at_once.generate(tree, params).generations] == expected
    reordered = PrefixTree(tree.prefix_ids, tree.branches[::-1], tree.leaves[::-1])
    again = {(g.branch_id, g.leaf_id): g.token_ids for g in four_at_once.generate(reordered, params).generations}
    assert [again[key] for key in request_ids(tree)] == expected


def test_sampling_with_top_k_one_is_greedy(engine: TransformersEngine, tree: PrefixTree) -> None:
    greedy = engine.generate(tree, DecodingParams(max_tokens=6)).generations
    top1 = engine.generate(tree, DecodingParams(temperature=1.5, top_k=1, max_tokens=6, seed=3)).generations
    sampled = engine.generate(tree, DecodingParams(temperature=1.5, max_tokens=6, seed=3)).generations
    assert [g.token_ids for g in top1] == [g.token_ids for g in greedy]
    assert [g.token_ids for g in sampled] != [g.token_ids for g in greedy]


# -- token accounting and prefix reuse -----------------------------------------------------------------------


def test_computed_tokens_equal_the_trie_bound(random_model_dir: Path, tree: PrefixTree) -> None:
    engine = TransformersEngine(random_model_dir, batch_size=BATCH_SIZE)
    first = engine.score(tree).stats
    assert first.computed_tokens == tree.trie_bound(with_target=True)
    assert first.prompt_tokens == tree.naive_total(with_target=True)
    again = engine.generate(tree, DecodingParams(max_tokens=2)).stats  # the prefix is kept between calls
    assert again.computed_tokens == tree.trie_bound(with_target=False) - len(tree.prefix_ids)
    assert again.prompt_tokens == again.computed_tokens + again.cached_tokens == tree.naive_total(with_target=False)


def test_a_longer_prefix_is_computed_afresh_so_scores_equal_a_cold_engines_bit_for_bit(
    random_model_dir: Path, tree: PrefixTree
) -> None:
    engine = TransformersEngine(random_model_dir, batch_size=BATCH_SIZE)
    engine.warm(tree.prefix_ids)
    longer = PrefixTree(tree.prefix_ids + tree.branches[0].token_ids, tree.branches[1:], tree.leaves[:3])
    result = engine.score(longer)
    assert result.stats.computed_tokens == longer.trie_bound(with_target=True)
    cold = TransformersEngine(random_model_dir, batch_size=BATCH_SIZE).score(longer)
    assert [s.token_logprobs for s in result.scores] == [s.token_logprobs for s in cold.scores]


def test_a_shorter_prefix_is_computed_afresh_and_scores_stay_exact(
    random_model_dir: Path, tree: PrefixTree
) -> None:
    engine = TransformersEngine(random_model_dir, batch_size=BATCH_SIZE)
    engine.warm(tree.prefix_ids + tree.branches[2].token_ids)
    shorter = PrefixTree(tree.prefix_ids[:-4], tree.branches, tree.leaves[:2])
    result = engine.score(shorter)
    assert result.stats.computed_tokens == shorter.trie_bound(with_target=True)
    for score, (branch, leaf) in zip(result.scores, requests_of(shorter), strict=True):
        full = shorter.full_prompt(branch, leaf, with_target=True)
        expected = uncached_logprobs(engine.model, full, len(leaf.target_ids))
        assert score.token_logprobs == pytest.approx(expected, abs=TOLERANCE)


# -- memory bounded by the batch -----------------------------------------------------------------------------


def cache_bytes(caches: weakref.WeakSet) -> int:
    """Bytes of the distinct tensor storages held by the key/value caches still alive."""
    storages = {}
    for cache in list(caches):
        for layer in cache.layers:
            for tensor in (layer.keys, layer.values):
                if tensor is not None and tensor.numel():
                    storage = tensor.untyped_storage()
                    storages[storage.data_ptr()] = storage.nbytes()
    return sum(storages.values())


class ForwardWatch:
    """A forward pre-hook recording, at every model call, its batch rows, real tokens and live cache bytes."""

    def __init__(self) -> None:
        self.caches: weakref.WeakSet = weakref.WeakSet()
        self.rows: list[int] = []
        self.real_tokens = 0
        self.unmasked_calls = 0
        self.peak_cache_bytes = 0

    def __call__(self, module, args, kwargs) -> None:
        input_ids, mask = kwargs["input_ids"], kwargs.get("attention_mask")
        self.rows.append(int(input_ids.shape[0]))
        self.unmasked_calls += mask is None  # prefix and branch passes run one sequence without a mask
        width = input_ids.shape[1]
        self.real_tokens += int(mask[:, -width:].sum()) if mask is not None else input_ids.numel()
        self.caches.add(kwargs["past_key_values"])
        self.peak_cache_bytes = max(self.peak_cache_bytes, cache_bytes(self.caches))


@pytest.mark.parametrize("mode", ["score", "generate"])
def test_memory_is_bounded_by_the_batch_not_the_tree(random_model_dir: Path, mode: str) -> None:
    batch_size, max_tokens = 2, 3
    big = build_tree(TOKENS, seed=4, prefix=40, branches=(30, 24, 30, 27, 30, 29), leaves=((6, 3), (2, 1)) * 6)
    engine = TransformersEngine(random_model_dir, batch_size=batch_size)
    watch = ForwardWatch()
    handle = engine.model.register_forward_pre_hook(watch, with_kwargs=True)
    try:
        if mode == "score":
            engine.score(big)
        else:
            engine.generate(big, DecodingParams(max_tokens=max_tokens, temperature=1.0, seed=0))
    finally:
        handle.remove()

    config = engine.model.config
    head_dim = config.hidden_size // config.num_attention_heads
    token_bytes = config.num_hidden_layers * 2 * config.num_key_value_heads * head_dim * 4  # keys + values, fp32
    context = len(big.prefix_ids) + max(len(b.token_ids) for b in big.branches)
    longest = context + max(len(x.prompt_ids) + len(x.target_ids) for x in big.leaves) + max_tokens
    bound = token_bytes * (len(big.prefix_ids) + context + batch_size * longest)
    # The bound is below what keeping every branch cache, or running every leaf at once, would hold.
    assert bound < token_bytes * len(big.branches) * context
    assert bound < token_bytes * len(big.leaves) * longest

    assert max(watch.rows) <= batch_size
    assert watch.unmasked_calls == 1 + len(big.branches)  # the prefix once, then each branch once
    logger.info("peak live cache bytes %d, bound %d", watch.peak_cache_bytes, bound)
    assert watch.peak_cache_bytes <= bound
    if mode == "score":
        assert watch.real_tokens == big.trie_bound(with_target=True)


# -- context window and settings -----------------------------------------------------------------------------


def test_context_error_is_raised_before_any_compute(random_model_dir: Path, tree: PrefixTree) -> None:
    engine = TransformersEngine(random_model_dir, max_context=80, batch_size=BATCH_SIZE)
    watch = ForwardWatch()
    handle = engine.model.register_forward_pre_hook(watch, with_kwargs=True)
    try:
        with pytest.raises(ContextLengthError, match=r"branch 'b2' \+ leaf 'q2' needs 86 tokens"):
            engine.score(tree)
        with pytest.raises(ContextLengthError, match=r"max_tokens 60"):
            engine.generate(tree, DecodingParams(max_tokens=60))
    finally:
        handle.remove()
    assert watch.rows == []


def test_create_engine_builds_it_from_a_spec(random_model_dir: Path) -> None:
    engine = create_engine(EngineSpec(kind="transformers", model=str(random_model_dir), max_context=128, batch_size=5))
    assert isinstance(engine, TransformersEngine)
    assert (engine.max_context, engine.batch_size) == (128, 5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dtype": "int8"}, "dtype must name a torch floating point type"),
        ({"max_context": 100_000}, r"max_context must be in \[1, 512\]"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
    ],
)
def test_bad_settings_are_rejected(random_model_dir: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(EngineError, match=message):
        TransformersEngine(random_model_dir, **kwargs)


def test_missing_model_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="could not load the causal LM and tokenizer of the model at .*nowhere"):
        TransformersEngine(tmp_path / "nowhere")


def test_spec_options_are_rejected(random_model_dir: Path) -> None:
    with pytest.raises(EngineError, match="takes no options"):
        TransformersEngine.from_spec(EngineSpec(kind="transformers", model=str(random_model_dir), options={"x": 1}))


# -- the contract every engine meets -------------------------------------------------------------------------


class TestTransformersEngineContract(EngineContract):
    @pytest.fixture(scope="class")
    @classmethod
    def engine(cls, random_model_dir: Path) -> TransformersEngine:
        return TransformersEngine(random_model_dir, batch_size=BATCH_SIZE)
