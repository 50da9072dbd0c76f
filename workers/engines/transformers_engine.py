"""The transformers engine: a Hugging Face causal LM with its own prefix key/value reuse (CPU default, GPU too).

How a call runs a prefix tree ``P + B_c + L_q``:
* the shared prefix ``P`` is computed once and kept between calls (``warm`` computes it ahead);
* each branch ``B_c`` is computed once, on top of the prefix cache (shared, not copied);
* the leaves run shortest first in batches of at most ``batch_size`` leaves of similar length (see
  ``_length_batches``) on the branch cache expanded over the batch (views; the batch's first forward pass makes
  its one copy, see ``kv_cache``), with padding between the cached
  context and each leaf (masked, with true position ids; see ``LeafBatch``); results come back in input order.
Only the prefix cache, one branch cache and one batch cache are alive at a time, so memory is bounded by
``batch_size`` and the longest request, not by the number of branches or leaves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

from workers.decoding import DecodingParams
from workers.engine import Engine
from workers.engines.batch_decoding import Completion, StopRules, decode_batch
from workers.engines.context_check import check_fits_context
from workers.engines.dtype import resolve_dtype
from workers.engines.kv_cache import SharedPrefix, require_full_attention, shared_cache
from workers.engines.leaf_batch import LeafBatch, pack_leaf_batch, token_histories
from workers.engines.sampling import TokenChooser, request_seed
from workers.errors import ContextLengthError, EngineError
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

MAX_PADDING = 0.25
"""A leaf batch is closed before the padding it needs would exceed this share of its real tokens."""


def _length_batches(leaves: Sequence[Leaf], *, with_target: bool, batch_size: int) -> list[list[int]]:
    """Leaf indices in batches: shortest first, at most ``batch_size`` per batch, and a new batch whenever the
    next leaf would pad the batch by more than ``MAX_PADDING`` of its real tokens (so a few long leaves do not
    make every short one run padded to their length)."""

    def length(i: int) -> int:
        return len(leaves[i].prompt_ids) + (len(leaves[i].target_ids) if with_target else 0)

    batches: list[list[int]] = []
    batch: list[int] = []
    real = 0
    for index in sorted(range(len(leaves)), key=length):
        n = length(index)
        if batch and (len(batch) == batch_size or (len(batch) + 1) * n > (1 + MAX_PADDING) * (real + n)):
            batches.append(batch)
            batch, real = [], 0
        batch.append(index)
        real += n
    if batch:
        batches.append(batch)
    return batches


def _torch_dtype(name: str) -> torch.dtype:
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise EngineError(f"dtype must name a torch floating point type (float32, bfloat16, float16), got {name!r}")
    return dtype


def reuse_token_counts(tree: PrefixTree, *, with_target: bool, prefix_reused: int) -> list[TokenCounts]:
    """Per-request counts when the prefix is computed once, each branch once, and every leaf on top.

    The first leaf of the first branch pays the prefix (less ``prefix_reused`` tokens kept from an earlier
    call); the first leaf of each branch pays its branch; every leaf pays its own tokens. The computed tokens
    of a call therefore sum to ``tree.trie_bound(...) - prefix_reused``.
    """
    prefix = len(tree.prefix_ids)
    counts = []
    for branch_index, branch in enumerate(tree.branches):
        for leaf_index, leaf in enumerate(tree.leaves):
            prompt = len(tree.full_prompt(branch, leaf, with_target=with_target))
            if leaf_index > 0:
                cached = prefix + len(branch.token_ids)
            elif branch_index > 0:
                cached = prefix
            else:
                cached = prefix_reused
            counts.append(TokenCounts(prompt_tokens=prompt, computed_tokens=prompt - cached, cached_tokens=cached))
    return counts


class TransformersEngine(Engine):
    """Scores and generates with a transformers causal LM, computing the prefix once and each branch once.

    ``model_path`` is a Hugging Face model directory (weights, config, tokenizer) or a hub id, loaded at
    ``revision`` through the Hugging Face cache. ``dtype`` ``"auto"`` follows ``device`` (``resolve_dtype``).
    ``max_context`` defaults to the model's ``max_position_embeddings`` and may not exceed it. ``batch_size`` is
    how many leaves run at once. Seeded sampling draws each request's tokens from its own generator, seeded from
    ``(seed, branch_id, leaf_id)``, so answers do not depend on batching.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        revision: str | None = None,
        dtype: str = "float32",
        device: str = "cpu",
        max_context: int | None = None,
        batch_size: int = 8,
    ) -> None:
        if batch_size < 1:
            raise EngineError(f"batch_size must be >= 1, got {batch_size}")
        dtype = resolve_dtype(dtype, device)
        torch_dtype = _torch_dtype(dtype)
        source = ModelSource(str(model_path), revision)
        path = source.describe()
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(source.location, **source.load_kwargs())
            model = AutoModelForCausalLM.from_pretrained(source.location, dtype=torch_dtype, **source.load_kwargs())
        except (OSError, ValueError) as exc:
            raise EngineError(source.not_found("causal LM and tokenizer", exc)) from exc
        self._device = torch.device(device)
        self._model = model.to(self._device).eval()
        require_full_attention(self._model)
        model_limit = int(self._model.config.max_position_embeddings)
        if max_context is not None and not 1 <= max_context <= model_limit:
            raise EngineError(
                f"max_context must be in [1, {model_limit}] (max_position_embeddings of {path}), got {max_context}"
            )
        self._max_context = max_context or model_limit
        self._dtype = dtype
        self._batch_size = batch_size
        self._eos_ids = self._find_eos_ids()
        pad = self._tokenizer.pad_token_id
        self._pad_id = int(pad if pad is not None else next(iter(self._eos_ids), 0))
        self._prefix = SharedPrefix(self._model)
        logger.info(
            "loaded %s (%s, %s): max_context=%d, batch_size=%d", path, dtype, device, self._max_context, batch_size
        )

    @classmethod
    def from_spec(cls, spec: EngineSpec) -> TransformersEngine:
        if spec.kind != "transformers":
            raise EngineError(f"TransformersEngine.from_spec needs kind 'transformers', got {spec.kind!r}")
        if spec.options:
            raise EngineError(f"the transformers engine takes no options, got {sorted(spec.options)}")
        return cls(
            spec.model, revision=spec.revision, dtype=spec.dtype, device=spec.device, max_context=spec.max_context,
            batch_size=spec.batch_size,
        )

    @property
    def dtype(self) -> str:
        """The dtype the model's weights were loaded in (``auto`` resolved for this engine's device)."""
        return self._dtype

    @property
    def max_context(self) -> int:
        return self._max_context

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @property
    def model(self) -> torch.nn.Module:
        """The loaded transformers model (eval mode)."""
        return self._model

    def _find_eos_ids(self) -> frozenset[int]:
        eos = self._model.generation_config.eos_token_id
        if eos is None:
            eos = self._tokenizer.eos_token_id
        if eos is None:
            return frozenset()
        return frozenset([eos] if isinstance(eos, int) else eos)

    def warm(self, prefix_ids: tuple[int, ...]) -> None:
        if len(prefix_ids) > self._max_context:
            raise ContextLengthError(f"prefix of {len(prefix_ids)} tokens exceeds max_context={self._max_context}")
        with torch.inference_mode():
            self._prefix.ensure(tuple(prefix_ids))

    def close(self) -> None:
        self._prefix.clear()

    # -- scoring ---------------------------------------------------------------------------------------------

    def score(self, tree: PrefixTree) -> ScoreResult:
        check_fits_context(tree, max_context=self._max_context, with_target=True)
        start = time.perf_counter()
        logprobs: list[tuple[float, ...]] = []
        reused = 0
        if tree.branches and tree.leaves:
            with torch.inference_mode():
                reused = self._prefix.ensure(tree.prefix_ids)
                batches = _length_batches(tree.leaves, with_target=True, batch_size=self._batch_size)
                for branch in tree.branches:
                    branch_cache = self._prefix.fork(branch.token_ids)
                    values: dict[int, tuple[float, ...]] = {}
                    for batch in batches:
                        leaves = [tree.leaves[i] for i in batch]
                        values.update(zip(batch, self._score_batch(branch_cache, tree, branch, leaves), strict=True))
                    logprobs.extend(values[i] for i in range(len(tree.leaves)))
                    del branch_cache
        counts = reuse_token_counts(tree, with_target=True, prefix_reused=reused)
        requests = [(b, x) for b in tree.branches for x in tree.leaves]
        scores = tuple(
            LeafScore(branch_id=b.branch_id, leaf_id=x.leaf_id, token_logprobs=values, tokens=count)
            for (b, x), values, count in zip(requests, logprobs, counts, strict=True)
        )
        stats = call_stats(time.perf_counter() - start, counts)
        logger.debug("scored %d requests: %s", len(scores), stats)
        return ScoreResult(scores=scores, stats=stats)

    def _score_batch(
        self, branch_cache: DynamicCache, tree: PrefixTree, branch: Branch, leaves: Sequence[Leaf]
    ) -> list[tuple[float, ...]]:
        batch = pack_leaf_batch(
            [x.prompt_ids + x.target_ids for x in leaves],
            context_length=len(tree.prefix_ids) + len(branch.token_ids),
            pad_id=self._pad_id,
            device=self._device,
        )
        # Targets end in the last column; the logits that predict them start one column before the first.
        kept = max(len(x.target_ids) for x in leaves) + 1
        logprobs = self._forward(batch, shared_cache(branch_cache, batch.rows), kept).float().log_softmax(-1)
        results = []
        for row, leaf in enumerate(leaves):
            n = len(leaf.target_ids)
            targets = torch.tensor(leaf.target_ids, dtype=torch.long, device=self._device)
            predicting = logprobs[row, kept - n - 1 : kept - 1]
            results.append(tuple(predicting.gather(-1, targets[:, None]).squeeze(-1).tolist()))
        return results

    def _forward(self, batch: LeafBatch, cache: DynamicCache, logits_to_keep: int) -> torch.Tensor:
        """Logits of the last ``logits_to_keep`` columns of ``batch`` run on ``cache`` (which grows by it)."""
        out = self._model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            position_ids=batch.position_ids,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=logits_to_keep,
        )
        return out.logits

    # -- generation ------------------------------------------------------------------------------------------

    def generate(self, tree: PrefixTree, params: DecodingParams) -> GenerateResult:
        check_fits_context(tree, max_context=self._max_context, with_target=False, max_tokens=params.max_tokens)
        start = time.perf_counter()
        completions: list[Completion] = []
        reused = 0
        if tree.branches and tree.leaves:
            chooser = TokenChooser(params)
            rules = StopRules(
                max_tokens=params.max_tokens,
                stop=params.stop,
                stop_ids=self._eos_ids | frozenset(params.stop_token_ids),
            )
            with torch.inference_mode():
                reused = self._prefix.ensure(tree.prefix_ids)
                batches = _length_batches(tree.leaves, with_target=False, batch_size=self._batch_size)
                for branch in tree.branches:
                    branch_cache = self._prefix.fork(branch.token_ids)
                    done: dict[int, Completion] = {}
                    for batch in batches:
                        leaves = [tree.leaves[i] for i in batch]
                        answers = self._generate_batch(branch_cache, tree, branch, leaves, params, chooser, rules)
                        done.update(zip(batch, answers, strict=True))
                    completions.extend(done[i] for i in range(len(tree.leaves)))
                    del branch_cache
        counts = reuse_token_counts(tree, with_target=False, prefix_reused=reused)
        requests = [(b, x) for b in tree.branches for x in tree.leaves]
        generations = tuple(
            LeafGeneration(
                branch_id=b.branch_id,
                leaf_id=x.leaf_id,
                text=done.text,
                token_ids=done.token_ids,
                finish_reason=done.finish_reason,
                tokens=count,
            )
            for (b, x), done, count in zip(requests, completions, counts, strict=True)
        )
        stats = call_stats(time.perf_counter() - start, counts)
        logger.debug("generated %d answers: %s", len(generations), stats)
        return GenerateResult(generations=generations, stats=stats)

    def _generate_batch(
        self,
        branch_cache: DynamicCache,
        tree: PrefixTree,
        branch: Branch,
        leaves: Sequence[Leaf],
        params: DecodingParams,
        chooser: TokenChooser,
        rules: StopRules,
    ) -> list[Completion]:
        context_ids = tree.prefix_ids + branch.token_ids
        segments = [x.prompt_ids for x in leaves]
        batch = pack_leaf_batch(segments, context_length=len(context_ids), pad_id=self._pad_id, device=self._device)
        cache = shared_cache(branch_cache, batch.rows)
        first_logits = self._forward(batch, cache, 1)[:, -1, :]
        return decode_batch(
            self._model,
            cache,
            first_logits=first_logits,
            attention_mask=batch.attention_mask,
            next_positions=batch.position_ids[:, -1] + 1,
            histories=token_histories(context_ids, segments, device=self._device),
            chooser=chooser,
            generators=[self._generator(params, branch.branch_id, x.leaf_id) for x in leaves],
            rules=rules,
            detokenize=self._detokenize,
        )

    def _generator(self, params: DecodingParams, branch_id: str, leaf_id: str) -> torch.Generator | None:
        """The request's own random generator when sampling with a seed; ``None`` (global RNG) otherwise."""
        if params.greedy or params.seed is None:
            return None
        return torch.Generator(device=self._device).manual_seed(request_seed(params.seed, branch_id, leaf_id))

    def _detokenize(self, token_ids: list[int]) -> str:
        return self._tokenizer.decode(token_ids, skip_special_tokens=True)
