"""Key/value caches along a prefix tree: the shared prefix (kept between calls), one copy per branch, one per batch.

transformers 5.x facts this relies on: ``DynamicCache.crop(n)`` removes ``-n`` tokens (``n <= 0``); a
``DynamicLayer`` never writes into its tensors: ``update`` concatenates into new ones, ``crop`` and
``batch_select_indices`` replace them by slices. So a new cache may hold the very tensors of another (or views of
them, expanded over the batch without copying) and grow on its own, leaving the other unchanged: a branch cache
starts on the prefix's tensors, a batch cache on the branch's; the first forward pass of a batch makes its one
copy (rows x context), when the layer concatenates the batch's new keys and values.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence

import torch
from transformers import DynamicCache, PreTrainedModel
from transformers.cache_utils import DynamicLayer

from workers.errors import EngineError

logger = logging.getLogger(__name__)


def require_full_attention(model: PreTrainedModel) -> None:
    """Raise ``EngineError`` unless every layer keeps a plain, full-attention ``DynamicLayer`` cache.

    Leaf batches put padding between the cached context and each leaf; that is exact only when every layer
    attends to every earlier unmasked token (no sliding window, no linear or recurrent state).
    """
    layers = DynamicCache(config=model.config).layers
    odd = sorted({type(layer).__name__ for layer in layers if type(layer) is not DynamicLayer})
    if not layers or odd:
        raise EngineError(
            f"{model.config.model_type!r} models use cache layers {odd or '(none)'}; the transformers engine reuses "
            "prefix caches only for full-attention layers (DynamicLayer). Use the vLLM engine for this model."
        )


def extend_cache(model: PreTrainedModel, cache: DynamicCache, token_ids: Sequence[int]) -> None:
    """Run one sequence ``token_ids`` on top of ``cache`` (batch of one), appending its keys and values."""
    if not token_ids:
        return
    start = cache.get_seq_length()
    input_ids = torch.tensor([list(token_ids)], dtype=torch.long, device=model.device)
    positions = torch.arange(start, start + len(token_ids), device=model.device).unsqueeze(0)
    model(input_ids=input_ids, position_ids=positions, past_key_values=cache, use_cache=True, logits_to_keep=1)


def shared_cache(cache: DynamicCache, rows: int = 1) -> DynamicCache:
    """A new cache over the tensors of a batch-of-one ``cache``, expanded to ``rows`` rows: views, no copy.

    The new cache grows (and shrinks) on its own; ``cache`` is left unchanged (see the module docstring).
    """
    shared = copy.copy(cache)
    shared.layers = []
    for layer in cache.layers:
        own = copy.copy(layer)
        if layer.get_seq_length() > 0:
            if layer.keys.shape[0] != 1:
                raise EngineError(f"shared_cache needs a batch-of-one cache, got {layer.keys.shape[0]} rows")
            own.keys = layer.keys.expand(rows, -1, -1, -1)
            own.values = layer.values.expand(rows, -1, -1, -1)
        shared.layers.append(own)
    return shared


class SharedPrefix:
    """The cache of the last shared prefix, kept between calls.

    ``ensure(prefix_ids)`` reuses the cached prefix when it is exactly ``prefix_ids`` and otherwise computes
    ``prefix_ids`` from scratch, in one forward pass. Extending or cropping a kept prefix would save a step's
    worth of prefix tokens per actor but makes fp32 results depend on which calls an actor ran before (a
    prefix computed in two passes differs from one computed in one in the last bits), so an actor that ran
    the previous step and a fresh one after a crash could score a near-tie differently. Exact reuse keeps
    every score a function of the request alone. ``fork(branch_ids)`` returns a new cache of prefix + branch
    and leaves the prefix cache untouched.
    """

    def __init__(self, model: PreTrainedModel) -> None:
        self._model = model
        self._ids: tuple[int, ...] = ()
        self._cache: DynamicCache | None = None

    @property
    def token_ids(self) -> tuple[int, ...]:
        return self._ids

    def ensure(self, prefix_ids: tuple[int, ...]) -> int:
        """Make the cache hold exactly ``prefix_ids``; return how many of its tokens were reused, not computed."""
        prefix_ids = tuple(prefix_ids)
        if self._cache is not None and self._ids == prefix_ids:
            return len(prefix_ids)
        self.clear()  # a failure below must not leave a cache that disagrees with its ids
        cache, reused = DynamicCache(config=self._model.config), 0
        extend_cache(self._model, cache, prefix_ids)
        self._ids, self._cache = tuple(prefix_ids), cache
        logger.debug("shared prefix of %d tokens ready (%d reused)", len(prefix_ids), reused)
        return reused

    def fork(self, branch_ids: tuple[int, ...]) -> DynamicCache:
        """A new cache of prefix + ``branch_ids``; the prefix cache is shared, never changed."""
        if self._cache is None:
            raise EngineError("SharedPrefix.fork called before ensure(prefix_ids)")
        branch = shared_cache(self._cache)
        extend_cache(self._model, branch, branch_ids)
        return branch

    def clear(self) -> None:
        self._ids, self._cache = (), None
