"""The transformers engine shares key/value tensors instead of copying them: a branch starts on the prefix's
tensors, a leaf batch on views of the branch's, so no per-row (or per-branch) copy of the context exists."""

from __future__ import annotations

import weakref
from pathlib import Path

import pytest
import torch

from tests.workers.engine_contract import build_tree
from workers.decoding import DecodingParams
from workers.engines.transformers_engine import TransformersEngine

ROWS = 8


def storages(cache) -> dict[int, int]:
    """Data pointer -> bytes of the distinct storages under a cache's keys and values."""
    found = {}
    for layer in cache.layers:
        for tensor in (layer.keys, layer.values):
            if tensor is not None and tensor.numel():
                storage = tensor.untyped_storage()
                found[storage.data_ptr()] = storage.nbytes()
    return found


class CacheWatch:
    """At every forward call: the rows fed, whether a mask came (leaf batches), and the storages then alive."""

    def __init__(self) -> None:
        self.caches: weakref.WeakSet = weakref.WeakSet()
        self.calls: list[dict] = []

    def __call__(self, module, args, kwargs) -> None:
        cache = kwargs["past_key_values"]
        self.caches.add(cache)
        alive: dict[int, int] = {}
        for other in list(self.caches):
            if other is not cache:
                alive.update(storages(other))
        first = cache.layers[0]
        self.calls.append({
            "rows": int(kwargs["input_ids"].shape[0]),
            "masked": kwargs.get("attention_mask") is not None,
            "own": storages(cache),
            "others": alive,
            "batch_stride": first.keys.stride(0) if first.keys is not None and first.keys.numel() else None,
        })


@pytest.mark.parametrize("mode", ["score", "generate"])
def test_a_leaf_batch_starts_on_views_of_the_branch_cache(random_model_dir: Path, mode: str) -> None:
    tree = build_tree(tuple(range(3, 259)), seed=2, prefix=120, branches=(60,), leaves=((4, 2),) * ROWS)
    engine = TransformersEngine(random_model_dir, batch_size=ROWS)
    watch = CacheWatch()
    handle = engine.model.register_forward_pre_hook(watch, with_kwargs=True)
    try:
        if mode == "score":
            engine.score(tree)
        else:
            engine.generate(tree, DecodingParams(max_tokens=3))
    finally:
        handle.remove()

    prefix_call, branch_call, batch_call = watch.calls[:3]
    assert (prefix_call["masked"], branch_call["masked"], batch_call["masked"]) == (False, False, True)
    assert batch_call["rows"] == ROWS
    prefix_storage = storages(engine._prefix._cache)
    # The branch is computed on the prefix's own tensors; the batch on the branch's, expanded (stride 0) over rows.
    assert branch_call["own"] == prefix_storage
    assert batch_call["batch_stride"] == 0
    assert set(batch_call["own"]) <= set(batch_call["others"]) | set(prefix_storage)
    # So right before the batch runs, the caches alive hold the prefix and the branch once, not ROWS copies.
    alive = {**batch_call["own"], **batch_call["others"]}
    config = engine.model.config
    token_bytes = config.num_hidden_layers * 2 * config.num_key_value_heads * config.head_dim * 4
    context = len(tree.prefix_ids) + len(tree.branches[0].token_ids)
    assert sum(alive.values()) <= token_bytes * (len(tree.prefix_ids) + context)


def test_shared_tensors_are_left_unchanged_by_the_batches_on_top(random_model_dir: Path) -> None:
    tree = build_tree(tuple(range(3, 259)), seed=3, prefix=30, branches=(10, 0, 7), leaves=((5, 3), (9, 1)) * 3)
    engine = TransformersEngine(random_model_dir, batch_size=4)
    engine.warm(tree.prefix_ids)
    before = [layer.keys.clone() for layer in engine._prefix._cache.layers]
    first = engine.score(tree)
    engine.generate(tree, DecodingParams(max_tokens=4))
    after = [layer.keys for layer in engine._prefix._cache.layers]
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert engine.score(tree).scores == first.scores
